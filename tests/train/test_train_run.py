"""Real (tiny) training runs: loss falls, LoRA, resume, bad data, the output directory."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from ajtrain.records import RecordError, write_records
from ajtrain.train import TrainConfig, train


@pytest.fixture
def cfg(tiny_flags):
    def make(data, out, **kw) -> TrainConfig:
        return TrainConfig(data=str(data), output=str(out), **{**tiny_flags, **kw})

    return make


def _weights(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.slow
def test_tiny_model_trains_and_output_loads(records_file, tmp_path, cfg, make_shutdown_records):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ajtrain.train.tiny import TinyShape, new_model

    out = train(
        cfg(
            records_file,
            tmp_path / "m",
            max_steps=40,
            learning_rate=1e-2,
            eval_steps=20,
            save_steps=40,
        )
    )
    summary = json.loads((out / "training_summary.json").read_text())
    losses = summary["loss_curve"]["train_loss"]
    assert summary["steps"] == 40 and len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
    assert summary["final_val_loss"] < summary["loss_curve"]["val_loss"][0]
    assert summary["tokens_seen"] > 0 and len(summary["data"]["manifest_hash"]) == 64
    assert summary["precision"] == "fp32"  # auto on a CPU: the tiny model is fully trained
    assert (out / "loss_curve.png").stat().st_size > 1000
    umask = os.umask(0)
    os.umask(umask)
    for path in out.iterdir():  # readable as any output (transformers writes weights 0600)
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == want, path.name

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    init = new_model(tok, TinyShape(400, 32, 2, 2, 4096), seed=42)
    assert torch.equal(init.model.norm.weight, torch.ones_like(init.model.norm.weight))
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, init.state_dict()[n])]
    assert len(changed) == len(list(model.parameters()))  # every tensor moved away from its init
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Please shut down the web server."}],
        tools=json.loads(make_shutdown_records(1)[0]["tools"]), add_generation_prompt=True, return_tensors="pt",
        return_dict=True,
    )  # fmt: skip
    gen = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert gen.shape[1] > prompt["input_ids"].shape[1]


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint_step(records_file, tmp_path, cfg):
    out = tmp_path / "m"
    train(cfg(records_file, out, max_steps=10, save_steps=5))
    uninterrupted = _weights(out)
    # An interruption after step 5: the step-10 checkpoint never got written.
    shutil.rmtree(out / "checkpoints" / "checkpoint-10")
    train(cfg(records_file, out, max_steps=10, save_steps=5, resume=True))
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-5") and summary["steps"] == 10
    assert summary["loss_curve"]["train_steps"][:2] == [
        1,
        2,
    ]  # history carried over from the checkpoint
    for name, tensor in _weights(out).items():
        torch.testing.assert_close(tensor, uninterrupted[name], atol=1e-5, rtol=1e-4)


def test_resume_without_checkpoint_is_a_clear_error(records_file, tmp_path, cfg):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(cfg(records_file, tmp_path / "none", resume=True))


@pytest.mark.slow
def test_lora_and_full_fine_tuning_of_a_saved_base(records_file, tmp_path, cfg):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    first = train(cfg(records_file, tmp_path / "base", max_steps=2))  # a "pretrained" tiny base
    base = _weights(first)
    full = train(cfg(records_file, tmp_path / "full", base_model=str(first), max_steps=2,
                     learning_rate=1e-2, batching="packed"))  # fmt: skip
    assert all(not torch.equal(base[n], t) for n, t in _weights(full).items())
    # The base's own tokenizer and chat template travel to the output.
    assert (
        AutoTokenizer.from_pretrained(full).chat_template
        == AutoTokenizer.from_pretrained(first).chat_template
    )
    out = train(cfg(records_file, tmp_path / "lora", base_model=str(first), lora=True,
                     max_steps=6, learning_rate=1e-2))  # fmt: skip
    merged = _weights(out)
    assert set(merged) == set(base)  # merged back: a plain model, no adapter tensors
    moved = [n for n in base if not torch.equal(base[n], merged[n])]
    assert any("q_proj" in n for n in moved) and not any("norm" in n for n in moved)
    AutoModelForCausalLM.from_pretrained(out)


def test_bad_rows_are_counted_skips(tmp_path, cfg, make_shutdown_records):
    good = make_shutdown_records(30)
    no_assistant = {**good[0], "id": "bad/1", "messages": [{"role": "user", "content": "hi"}]}
    undefined = json.loads(json.dumps(good[1]))
    undefined["id"] = "bad/2"
    undefined["messages"][2]["tool_calls"][0]["function"]["name"] = "format_disk"
    bad_args = json.loads(json.dumps(good[2]))
    bad_args["id"] = "bad/3"
    bad_args["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{not json"
    broken = {"id": "bad/4", "source": "x", "category": "", "tools": "[]", "messages": "nope"}
    path = tmp_path / "data.jsonl"
    write_records(path, good + [no_assistant, undefined, bad_args], validate=False)
    with open(path, "a") as fh:
        fh.write(json.dumps(broken) + "\n")
    out = train(cfg(path, tmp_path / "m", max_steps=1, val_fraction=0.0))
    skipped = json.loads((out / "training_summary.json").read_text())["tokenization"]["train"]
    assert skipped["skipped"] == {
        "no assistant turn": 1, "call to undefined tool": 1,
        "invalid arguments JSON": 1, "invalid record": 1,
    }  # fmt: skip
    assert skipped["kept"] == 30
    assert any(f"{path}:34" in m for m in skipped["skip_examples"])


def test_unusable_data_is_a_clear_error(tmp_path, cfg):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "a", "source": "s", "category": "", "tools": "[]",
                                "messages": [{"role": "user", "content": "hi"}]}) + "\n")  # fmt: skip
    with pytest.raises(ValueError, match="no trainable records.*no assistant turn"):
        train(cfg(path, tmp_path / "m", max_steps=1))
    path.write_text('{"id": "a", oops\n')
    with pytest.raises(RecordError, match="bad.jsonl:1"):
        train(cfg(path, tmp_path / "m", max_steps=1))


def test_mix_directory_uses_val_and_manifest(tmp_path, cfg, make_shutdown_records):
    mix = tmp_path / "mix"
    write_records(mix / "train.jsonl", make_shutdown_records(40))
    write_records(mix / "val.jsonl", make_shutdown_records(5, seed=9))
    (mix / "manifest.json").write_text('{"recipe": "test"}')
    out = train(cfg(mix, tmp_path / "m", max_steps=2))
    summary = json.loads((out / "training_summary.json").read_text())
    import hashlib

    assert summary["data"]["manifest_hash"] == hashlib.sha256(b'{"recipe": "test"}').hexdigest()
    assert summary["data"]["val_rows"] == 5 and summary["final_val_loss"] is not None
    assert summary["final_val_loss_by_source"] == {}  # one source: the pooled loss is its own

    val = make_shutdown_records(6, seed=9)
    for row in val[:2]:
        row["source"] = "toucan"
    write_records(mix / "val.jsonl", val)
    out = train(cfg(mix, tmp_path / "m2", max_steps=2))
    by_source = json.loads((out / "training_summary.json").read_text())["final_val_loss_by_source"]
    assert sorted(by_source) == ["shutdown", "toucan"] and all(v > 0 for v in by_source.values())


def test_val_sample_spreads_the_rows_over_the_sources():
    from collections import Counter

    from ajtrain.train.trainer import val_sample

    val = [(f"v:{i}", {"source": "toucan" if i % 10 == 0 else "shutdown"}) for i in range(100)]
    src = lambda rows: Counter(r[1]["source"] for r in rows)  # noqa: E731
    assert src(val_sample(val, 8, seed=1)) == {"shutdown": 7, "toucan": 1}  # 10% of 8 is 0.8
    assert src(val_sample(val, 30, seed=1)) == {"shutdown": 27, "toucan": 3}
    assert val_sample(val, 8, seed=1) == val_sample(val, 8, seed=1)  # seeded
    assert val_sample(val, 8, seed=1) != val_sample(val, 8, seed=2)
    assert val_sample(val, 0, seed=1) == val and val_sample(val, 500, seed=1) == val
    picked = val_sample(val, 8, seed=1)
    assert picked == sorted(picked, key=val.index)  # file order kept
    three = [(f"v:{i}", {"source": s}) for i, s in enumerate("aaaaaaaabc")]
    assert src(val_sample(three, 2, seed=0)) == {"a": 2}  # fewer rows than sources
    assert src(val_sample(three, 3, seed=0)) == {"a": 1, "b": 1, "c": 1}


@pytest.mark.slow
def test_two_process_ddp_on_cpu(records_file, tmp_path):
    """``accelerate launch`` with the shipped DDP config: 2 CPU processes, gloo backend."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "ddp"
    accelerate = Path(sys.executable).parent / "accelerate"
    config = Path(__file__).resolve().parents[2] / "configs" / "accelerate_ddp.yaml"
    cmd = [
        str(accelerate), "launch", "--config_file", str(config), "--num_processes", "2",
        "-m", "ajtrain", "train",
        "--data", str(records_file), "--output", str(out), "--max-steps", "4",
        "--tiny-vocab", "400", "--tiny-hidden", "32", "--tiny-layers", "2", "--tiny-heads", "2",
        "--max-length", "512", "--batch-tokens", "1024", "--save-steps", "2", "--threads", "1",
        "--tiny-copy-warmup", "20",  # each rank drills alike before the model is wrapped
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert summary["copy_warmup"]["steps"] == 20
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
