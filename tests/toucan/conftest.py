"""Fixture mirrors for the Toucan tests, written by the project's own fixture builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajtrain.records import validate_record
from ajtrain.toucan.fixtures import write_fixture_mirror


@pytest.fixture(scope="session")
def kimi_mirror(tmp_path_factory) -> Path:
    """400 Kimi-K2 rows over 2 shards, every 13th row broken in a rotating way."""
    root = tmp_path_factory.mktemp("mirror")
    return write_fixture_mirror(root, "Kimi-K2", rows=400, seed=7, shards=2, broken_every=13)


@pytest.fixture(scope="session")
def check_record():
    """A checker for the invariants every converted record holds."""
    return _check_record


def _check_record(rec: dict) -> None:
    """The invariants every converted record must hold (the issue's 'must show' list)."""
    import orjson

    validate_record(rec, where=rec["id"])
    names = {t["function"]["name"] for t in orjson.loads(rec["tools"])}
    answered = set()
    for m in rec["messages"]:
        for key in ("content", "reasoning_content"):
            for marker in ("<|im_", "<tools>", "tool_declare"):
                assert marker not in (m.get(key) or ""), (rec["id"], key, marker)
        for call in m.get("tool_calls", ()):
            assert call["function"]["name"] in names, (rec["id"], call["function"]["name"])
            assert isinstance(orjson.loads(call["function"]["arguments"]), dict)
        if m["role"] == "tool":
            assert m["tool_call_id"] not in answered, "two results answer one call"
            answered.add(m["tool_call_id"])
