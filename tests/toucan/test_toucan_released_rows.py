"""Every real released row in ../shared/toucan_real converts faithfully."""

from __future__ import annotations

import json

import orjson

from ajtrain.toucan.convert import convert_row


def _real(path):
    for line in path.read_text().splitlines():
        row = json.loads(line)
        config = "Qwen3" if "config Qwen3" in row["_provenance"]["note"] else "Kimi-K2"
        yield config, row


def test_every_real_row_converts(toucan_real_rows, check_record):
    rows = list(_real(toucan_real_rows))
    assert len(rows) == 10
    for config, row in rows:
        rec = convert_row(row, config)
        check_record(rec)
        assert rec["id"] == f"toucan/{config}/{row['uuid']}"
        assert rec["category"] == row["subset_name"] == "single-turn-original"
        assert "<|im_" not in orjson.dumps(rec["messages"]).decode()


def test_real_rows_keep_calls_results_and_arguments_exactly(toucan_real_rows):
    for config, row in _real(toucan_real_rows):
        source = json.loads(row["messages"])
        rec = convert_row(row, config)
        calls = [m["function_call"] for m in source if m.get("function_call")]
        results = [m for m in source if m["role"] == "function"]
        out_calls = [c["function"] for m in rec["messages"] for c in m.get("tool_calls", ())]
        out_results = [m for m in rec["messages"] if m["role"] == "tool"]
        # Same calls in the same order, arguments byte-for-byte the original strings.
        assert [(c["name"], c["arguments"]) for c in calls] == [
            (c["name"], c["arguments"]) for c in out_calls
        ]
        assert [(r["name"], r["content"]) for r in results] == [
            (r["name"], r["content"]) for r in out_results
        ]
        # A split emission (text + K call fragments) becomes one assistant message.
        for i, m in enumerate(rec["messages"][1:], 1):
            assert not (m["role"] == "assistant" and rec["messages"][i - 1]["role"] == "assistant")
        if config == "Kimi-K2":
            assert rec["messages"][0]["role"] == "user"  # the tool_declare system message is gone
            assert rec["meta"]["question"] == source[1]["content"]


def test_real_parallel_calls_kept_in_order(toucan_real_rows):
    rows = {row["uuid"][:8]: (c, row) for c, row in _real(toucan_real_rows)}
    rec = convert_row(rows["1d90e5bc"][1], "Kimi-K2")
    sizes = [len(m.get("tool_calls", ())) for m in rec["messages"] if m["role"] == "assistant"]
    assert sizes[:2] == [3, 2]
    first = rec["messages"][1]
    ids = [c["id"] for c in first["tool_calls"]]
    assert [m["tool_call_id"] for m in rec["messages"][2:5]] == ids


def test_call_to_tool_declared_only_in_system_message_adds_its_definition(toucan_real_rows):
    rows = {row["uuid"][:8]: row for _, row in _real(toucan_real_rows)}
    row = rows["ac0907b0"]
    rec = convert_row(row, "Kimi-K2")
    available = json.loads(row["available_tools"])
    tools = json.loads(rec["tools"])
    assert tools[: len(available)] == available
    added = {t["function"]["name"] for t in tools[len(available) :]}
    assert added == {"exa-search-deep_researcher_start", "exa-search-deep_researcher_check"}
    # Other rows keep available_tools as the very same string.
    assert convert_row(rows["0045695f"], "Kimi-K2")["tools"] == rows["0045695f"]["available_tools"]


def test_real_rows_load_from_a_jsonl_file(toucan_real_rows, tmp_path, check_record):
    from ajtrain.records import read_records
    from ajtrain.toucan.load import LoadConfig, load_toucan

    s = load_toucan(
        LoadConfig(
            source=str(toucan_real_rows),
            config="Kimi-K2",
            progress=False,
            output=str(tmp_path / "real.jsonl"),
        )  # fmt: skip
    )
    assert (s.read, s.kept, s.rejected) == (10, 10, 0)
    recs = list(read_records(s.output))
    for rec in recs:
        check_record(rec)
    assert recs[-1]["meta"]["question_scores"]["question_quality"] in range(1, 6)
