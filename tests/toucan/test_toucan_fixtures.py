"""The fixture builder writes the released schema, with every quirk, deterministically."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from ajtrain.toucan.convert import KIMI_PREFIX
from ajtrain.toucan.fixtures import iter_fixture_rows, write_fixture_mirror
from ajtrain.toucan.source import SFT_COLUMNS, TEACHER_COLUMNS


def test_shards_have_the_exact_schema_and_names(tmp_path):
    folder = write_fixture_mirror(tmp_path, "OSS", rows=50, seed=1, shards=3)
    names = sorted(p.name for p in folder.iterdir())
    assert folder.name == "OSS"
    assert names == [f"train-0000{k}-of-00003.parquet" for k in range(3)]
    schema = pq.read_schema(folder / names[0])
    assert schema.names == list(TEACHER_COLUMNS)
    assert all(t == pa.string() for t in schema.types)
    assert sum(pq.ParquetFile(folder / n).metadata.num_rows for n in names) == 50
    sft = write_fixture_mirror(tmp_path, "SFT", rows=5, seed=1)
    assert pq.read_schema(next(sft.iterdir())).names == list(SFT_COLUMNS)


def test_rows_are_deterministic_per_seed():
    a = list(iter_fixture_rows("Qwen3", 20, seed=3))
    assert a == list(iter_fixture_rows("Qwen3", 20, seed=3))
    assert a != list(iter_fixture_rows("Qwen3", 20, seed=4))


def test_every_quirk_is_present():
    rows = list(iter_fixture_rows("Kimi-K2", 120, seed=0)) + list(
        iter_fixture_rows("OSS", 60, seed=0)
    )
    seen = Counter()
    for r in rows:
        msgs = json.loads(r["messages"])
        seen[r["subset_name"]] += 1
        if msgs[0]["role"] == "system":
            seen[
                "kimi_system" if msgs[0]["content"].startswith(KIMI_PREFIX) else "nous_system"
            ] += 1
        else:
            seen["no_system"] += 1
        roles = [m["role"] for m in msgs]
        seen["multi_user"] += roles.count("user") > 1
        for a, b in zip(msgs, msgs[1:], strict=False):
            if a.get("function_call") and b.get("function_call"):
                seen["parallel"] += 1
            if a["role"] == b["role"] == "assistant" and a["content"] and b.get("function_call"):
                seen["split_emission"] += 1
        seen["reasoning"] += any("reasoning_content" in m for m in msgs)
        seen["call_id"] += any("call_id" in m.get("function_call", {}) for m in msgs)
        seen["empty_response_judge"] += r["response_quality_assessment"] == ""
        names = {t["function"]["name"] for t in json.loads(r["available_tools"])}
        seen["declared_only_call"] += any(
            m.get("function_call", {}).get("name") not in names | {None} for m in msgs
        )
    seen["repeated_uuid"] = len(rows) - len({(r["uuid"], r["subset_name"]) for r in rows})
    for quirk in (
        "single-turn-original",
        "single-turn-diversify",
        "irrelevant",
        "multi-turn",
        "kimi_system",
        "nous_system",
        "no_system",
        "multi_user",
        "parallel",
        "split_emission",
        "reasoning",
        "call_id",
        "empty_response_judge",
        "declared_only_call",
        "repeated_uuid",
    ):
        assert seen[quirk] > 0, quirk
    # Empty response assessments belong to irrelevant rows only.
    assert all(
        (r["response_quality_assessment"] == "") == (r["subset_name"] == "irrelevant") for r in rows
    )


def test_sft_rows_use_tool_call_and_tool_response_roles():
    rows = list(iter_fixture_rows("SFT", 30, seed=0))
    assert set(rows[0]) == set(SFT_COLUMNS)
    roles = Counter(m["role"] for r in rows for m in json.loads(r["messages"]))
    assert set(roles) == {"user", "assistant", "tool_call", "tool_response"}
