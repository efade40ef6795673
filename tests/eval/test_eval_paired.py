"""Two runs compared episode by episode (the demo's trained-vs-untrained line)."""

from __future__ import annotations

import json

import pytest

from ajtrain.eval.report import paired


def _run(path, passed: dict[str, bool]):
    path.mkdir()
    with open(path / "episodes.jsonl", "w") as fh:
        for sid, ok in passed.items():
            fh.write(json.dumps({"id": sid, "trial": 0, "passed": ok}) + "\n")
    return path


def test_paired_counts_the_discordant_episodes_and_tests_them(tmp_path):
    a = _run(tmp_path / "a", {f"s{i}": i < 12 for i in range(20)} | {"only-a": True})
    b = _run(tmp_path / "b", {f"s{i}": i < 2 or i >= 18 for i in range(20)})
    vs = paired(a, b)
    assert vs["episodes"] == 20  # "only-a" was not played by b
    assert (vs["a_only"], vs["b_only"]) == (10, 2)
    assert vs["a_safe_success"] == 0.6 and vs["b_safe_success"] == 0.2
    # exact two-sided McNemar: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * 79 / 4096
    assert vs["p_value"] == pytest.approx(2 * 79 / 4096)
    same = paired(a, a)
    assert (same["a_only"], same["b_only"], same["p_value"]) == (0, 0, 1.0)


def test_paired_names_a_missing_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="episodes.jsonl"):
        paired(tmp_path, tmp_path)
