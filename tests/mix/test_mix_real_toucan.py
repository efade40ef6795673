"""Real released Toucan rows, converted by the loader, go through the mix unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ajtrain.mix import MixConfig, run_mix
from ajtrain.records import read_records

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "toucan_real" / "rows.jsonl"


@pytest.mark.skipif(not REAL.exists(), reason="../shared/toucan_real not present")
def test_real_toucan_records_mix_unchanged(tmp_path, write_jsonl, write_recipe, make_shutdown):
    from ajtrain.toucan.convert import convert_row

    rows = [json.loads(line) for line in REAL.read_text().splitlines()]
    records = [convert_row(r, "Kimi-K2") for r in rows]
    toucan = write_jsonl(tmp_path / "toucan_Kimi-K2_trajectories.jsonl", records)
    shutdown = write_jsonl(tmp_path / "shutdown.jsonl", [make_shutdown(i) for i in range(4)])
    recipe = write_recipe(
        {
            "total": len(records) + 4,
            "sources": {
                "shutdown": {"path": str(shutdown), "count": 4},
                "toucan": {"path": str(toucan), "count": len(records)},
            },
        }
    )
    out = tmp_path / "out"
    m = run_mix(MixConfig(recipe, out, workers=1, chart=False), decontam_keys=frozenset())
    assert m["sources"][1]["categories"] == {"single-turn-original": len(records)}
    mixed = {r["id"]: r for r in read_records(out / "train.jsonl")}
    assert all(mixed[r["id"]] == r for r in records)
    assert m["tokens"]["max"] > m["tokens"]["min"] > 0
