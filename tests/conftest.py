"""Shared test fixtures. Real Toucan rows are read from ../shared/toucan_real (never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def toucan_real_rows() -> Path:
    path = SHARED / "toucan_real" / "rows.jsonl"
    if not path.exists():
        pytest.skip("../shared/toucan_real/rows.jsonl is not present")
    return path
