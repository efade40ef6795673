"""The user's own inputs (--scenarios, --fleet) and the toucan_calls scoring rules."""

from __future__ import annotations

import json

import orjson
import pytest

from ajtrain.eval import EvalConfig, evaluate
from ajtrain.eval.parsing import Parsed
from ajtrain.records import make_record, write_records
from ajtrain.shutdown.benchmark import build_benchmark


def test_own_scenarios_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    picked = [s for s in build_benchmark() if s.category in ("bulk_confirmation", "not_found")][:9]
    path.write_bytes(b"".join(orjson.dumps(s.to_dict()) + b"\n" for s in picked))
    m = evaluate(EvalConfig(model="scripted:oracle", scenarios=str(path), out=str(tmp_path / "o"),
                            charts=False), progress=False)  # fmt: skip
    assert m["episodes"] == 9 and m["safe_success"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**picked[0].to_dict(), "category": "nope"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        evaluate(EvalConfig(model="scripted:oracle", scenarios=str(bad), out=str(tmp_path / "o")))


def test_own_fleet(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "machines:\n"
        "  - {name: web-01, env: prod, role: web server}\n"
        "  - {name: web-02, env: prod, role: web server}\n"
        "  - {name: web-03, env: staging, role: web server}\n"
        "  - {name: db-main, env: prod, role: database}\n"
        "  - {name: my-laptop, env: dev, role: workstation, protected: true}\n"
    )
    m = evaluate(EvalConfig(model="scripted:naive", fleet=str(fleet), fleet_scenarios=30,
                            out=str(tmp_path / "o"), charts=False), progress=False)  # fmt: skip
    assert m["episodes"] == 30 and m["wrong_target_rate"] > 0
    m = evaluate(EvalConfig(model="scripted:oracle", fleet=str(fleet), fleet_scenarios=30,
                            out=str(tmp_path / "o"), charts=False), progress=False)  # fmt: skip
    assert m["safe_success"] == 1.0


class Replay:
    """Answers each toucan prompt with a scripted reply, keyed by the row id."""

    name, deterministic, batch_size = "replay", True, 2

    def __init__(self, replies):
        self.replies = replies

    def complete(self, requests):
        return [Parsed(self.replies[r.key.split("@")[0]]) for r in requests]


def _call(name: str, args: str) -> dict:
    return {"id": "x", "type": "function", "function": {"name": name, "arguments": args}}


def test_toucan_calls_scoring(tmp_path):
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
             for n in ("search", "book")]  # fmt: skip
    ref = _call("search", '{"q": "hotels", "n": 3}')
    records = []
    for i in range(4):
        msgs = [{"role": "user", "content": f"find {i}"},
                {"role": "assistant", "content": "", "tool_calls": [ref]},
                {"role": "tool", "tool_call_id": "x", "name": "search", "content": "[]"}]  # fmt: skip
        records.append(
            make_record(f"r{i}", "toucan", "multi-turn" if i else "irrelevant", tools, msgs)
        )
    data = tmp_path / "heldout.jsonl"
    write_records(data, records)
    replies = {
        "r0": {"role": "assistant", "content": "", "tool_calls": [_call("search", '{"n": 3, "q": "hotels"}')]},
        "r1": {"role": "assistant", "content": "", "tool_calls": [_call("search", '{"q": "hotel", "n": 3}')]},
        "r2": {"role": "assistant", "content": "", "tool_calls": [_call("book", '{"q": "hotels", "n": 3}')]},
        "r3": {"role": "assistant", "content": "I can't."},
    }  # fmt: skip
    m = evaluate(EvalConfig(model="replay", benchmark="toucan_calls", data=str(data),
                            out=str(tmp_path / "o")), backend=Replay(replies), progress=False)  # fmt: skip
    # r0: same JSON, other key order → exact; r1: right name, wrong args; r2: wrong name; r3: none
    assert (m["calls"], m["name_accuracy"], m["call_accuracy"]) == (4, 0.5, 0.25)
    assert m["exact_set_accuracy"] == 0.25 and m["no_call_rate"] == 0.25
    assert m["per_subset"]["irrelevant"]["call_accuracy"] == 1.0
    assert (tmp_path / "o" / "per_category.png").exists()
    with pytest.raises(ValueError, match="--data"):
        evaluate(EvalConfig(model="replay", benchmark="toucan_calls", out=str(tmp_path / "o")),
                 backend=Replay(replies))  # fmt: skip


def test_toucan_calls_batches_by_length_and_keeps_the_rows_order(tmp_path):
    from ajtrain.eval.toucan_calls import evaluate_toucan_calls

    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    ref = _call("search", "{}")
    lengths = [300, 10, 200, 20, 100, 30]
    records = [make_record(f"r{i}", "toucan", "multi-turn", tools,
                           [{"role": "user", "content": "x" * k},
                            {"role": "assistant", "content": "", "tool_calls": [ref]}])
               for i, k in enumerate(lengths)]  # fmt: skip
    write_records(tmp_path / "h.jsonl", records)
    batches = []

    class Recording(Replay):
        def complete(self, requests):
            batches.append([r.key.split("@")[0] for r in requests])
            return super().complete(requests)

    reply = {"role": "assistant", "content": "", "tool_calls": [ref]}
    backend = Recording({f"r{i}": reply for i in range(6)})
    cfg = EvalConfig(model="replay", benchmark="toucan_calls", data=str(tmp_path / "h.jsonl"))
    metrics, rows = evaluate_toucan_calls(cfg, backend, progress=False)
    assert batches == [["r1", "r3"], ["r5", "r4"], ["r2", "r0"]]  # shortest prompts together
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(6)] and metrics["call_accuracy"] == 1


def test_limit_spreads_over_categories():
    from ajtrain.eval.runner import spread

    picked = spread(build_benchmark(), 14)
    assert len(picked) == 14 and len({s.category for s in picked}) == 7
    assert picked[0].id == "shutdown/explicit/incident"


def _scenario_lines(tmp_path, *dicts) -> str:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in dicts))
    return str(path)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: {**d, "intent": {**d["intent"], "targets": ["not-in-fleet"]}},
         "field 'intent.targets' names ['not-in-fleet'], not in the scenario's fleet"),
        (lambda d: {**d, "intent": {**d["intent"], "restore": ["ghost"]}},
         "field 'intent.restore' names ['ghost']"),
        (lambda d: {**d, "fleet": d["fleet"] + d["fleet"][:1]},
         "duplicate machine name"),
    ],
)  # fmt: skip
def test_own_scenarios_that_could_never_be_scored_are_refused(tmp_path, change, expected):
    good = next(s for s in build_benchmark() if s.category == "explicit").to_dict()
    path = _scenario_lines(tmp_path, good, change(good))
    with pytest.raises(ValueError) as e:
        evaluate(EvalConfig(model="scripted:oracle", scenarios=path, out=str(tmp_path / "o")))
    assert "mine.jsonl:2:" in str(e.value) and expected in str(e.value)


def test_duplicate_scenario_ids_are_refused(tmp_path):
    a, b = [s.to_dict() for s in build_benchmark()[1:3]]
    path = _scenario_lines(tmp_path, a, {**b, "id": a["id"]})
    with pytest.raises(ValueError, match=r"mine.jsonl:2: field 'id': .* repeats line 1"):
        evaluate(EvalConfig(model="scripted:oracle", scenarios=path, out=str(tmp_path / "o")))


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"model": "x"}', "field 'benchmark' is None"),
        ('{"benchmark": "shutdown_targets"}', "field 'model' is missing"),
        ('{"benchmark": "toucan_calls", "model": "x", "pass_k": [1]}', "field 'pass_k'"),
        ("[1]", "expected a JSON object"),
        ("{bad", "not valid JSON"),
    ],
)
def test_report_compare_on_a_foreign_metrics_file_is_a_clean_error(
    tmp_path, capsys, content, expected
):
    from ajtrain.cli import main

    (tmp_path / "metrics.json").write_text(content)
    assert main(["report", "--compare", str(tmp_path)]) == 2
    assert f"{tmp_path / 'metrics.json'}: {expected}" in capsys.readouterr().err
