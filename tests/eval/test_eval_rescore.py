"""`ajtrain report --rescore`: a saved run judged again by this version's checker, no model run."""

from __future__ import annotations

import json

import pytest

from ajtrain.cli import main
from ajtrain.eval import EvalConfig, evaluate
from ajtrain.eval.rescore import rescore


@pytest.fixture()
def run(tmp_path):
    out = tmp_path / "run"
    evaluate(EvalConfig(model="scripted:oracle", categories=["explicit"], limit=4, out=str(out),
                        charts=False), progress=False)  # fmt: skip
    return out


def _rows(d):
    return [json.loads(line) for line in (d / "episodes.jsonl").read_text().splitlines()]


def _write_rows(d, rows):
    (d / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_an_unchanged_checker_gives_the_same_verdicts(run, tmp_path):
    new = rescore(run, tmp_path / "again", charts=False)
    old = json.loads((run / "metrics.json").read_text())
    assert new["rescored"] == {"from": str(run), "episodes_changed": 0, "changed": []}
    for key in ("safe_success", "per_category", "pass_k", "model", "config", "timing"):
        assert new[key] == old[key]
    assert [r["passed"] for r in _rows(tmp_path / "again")] == [r["passed"] for r in _rows(run)]


def test_a_transcript_the_checker_now_reads_otherwise_changes_verdict(run, tmp_path):
    # Turn the confirmation question of the first episode into a choice ("... or ...?"): the
    # user's yes to it confirms nothing, so the shutdown after it is unconfirmed.
    rows = _rows(run)
    msgs = rows[0]["messages"]
    ask = max(i for i, m in enumerate(msgs) if m["role"] == "assistant" and m["content"]
              and not m.get("tool_calls") and i + 1 < len(msgs) and msgs[i + 1]["role"] == "user")  # fmt: skip
    msgs[ask]["content"] += " Or did you mean another one?"
    _write_rows(run, rows)
    new = rescore(run, tmp_path / "again", charts=False)
    assert new["rescored"]["changed"] == [rows[0]["id"]]
    again = _rows(tmp_path / "again")[0]
    assert again["passed"] is False and "confirm" in again["rules_broken"]
    assert new["safe_success"] == 0.75


def test_bad_runs_are_clean_errors_naming_file_line_and_field(run, tmp_path):
    with pytest.raises(ValueError, match="choose another directory"):
        rescore(run, run)
    rows = _rows(run)
    del rows[1]["messages"]
    _write_rows(run, rows)
    with pytest.raises(ValueError, match=r"episodes.jsonl:2: field 'messages' is missing"):
        rescore(run, tmp_path / "x")
    rows[1] = {**rows[0], "messages": [{"role": "assistant", "tool_calls": [{"id": "x"}]}]}
    _write_rows(run, rows)
    with pytest.raises(ValueError, match=r"episodes.jsonl:2: field 'messages' is not a transcript"):
        rescore(run, tmp_path / "x")
    rows[1] = {**rows[0], "id": "bench/explicit/nope"}
    _write_rows(run, rows)
    with pytest.raises(ValueError, match=r"episodes.jsonl:2: field 'id' is 'bench/explicit/nope'"):
        rescore(run, tmp_path / "x")
    (run / "episodes.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match=r"episodes.jsonl:1: field '<line>': invalid JSON"):
        rescore(run, tmp_path / "x")
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "benchmark": "toucan_calls"}))
    with pytest.raises(ValueError, match="only shutdown_targets runs"):
        rescore(run, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing written by a refused run


def test_cli_rescore(run, tmp_path, capsys):
    assert main(["report", "--rescore", str(run), "--out", str(tmp_path / "again")]) == 0
    text = capsys.readouterr().out
    assert "0 episode(s) changed verdict" in text and "safe_success" in text
    assert (tmp_path / "again" / "report.html").is_file()
    assert main(["report", "--rescore", str(run)]) == 2  # no --out
    assert main(["report", "--rescore", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert main(["report"]) == 2  # neither --compare nor --rescore
    assert main(["report", "--rescore", str(run), "--compare", str(run)]) == 2
