"""The trainer is TRL's: an ``SFTTrainer`` on our tokenized micro-batches, loss on assistant tokens."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ajtrain.train import TrainConfig, train
from ajtrain.train.batching import PaddedCollator, group_by_length
from ajtrain.train.data import IGNORE, conversation, tokenize
from ajtrain.train.template import SpanFinder
from ajtrain.train.tiny import TinyShape, new_model, train_tokenizer
from ajtrain.train.trainer import batch_dataset, labelled_loss, trainer_class, training_args


@pytest.fixture
def setup(make_shutdown_records):
    """Tokenizer, tokenized examples (and their stats) and grouped micro-batches."""
    rows = [(f"t:{i}", r) for i, r in enumerate(make_shutdown_records(24))]
    render = SpanFinder(train_tokenizer([], 300)).render
    tok = train_tokenizer([render(*conversation(o, w), False) for w, o in rows], 400)
    examples, stats = tokenize(rows, tok, 512)
    return tok, examples, stats, group_by_length(examples, 2048, seed=0)


def _trainer(tmp_path, tok, batches, **kw):
    cfg = TrainConfig(data="-", output=str(tmp_path), max_length=512, learning_rate=1e-2, **kw)
    model = new_model(tok, TinyShape(len(tok), 32, 2, 2, 512), seed=0)
    model.config.use_cache = False
    trainer = trainer_class()(
        model=model, args=training_args(cfg, tmp_path, has_val=False),
        train_dataset=batch_dataset(batches), data_collator=PaddedCollator(tok.pad_token_id),
        processing_class=tok,
    )  # fmt: skip
    return trainer, model


def test_the_trainer_is_trls_sft_trainer_with_our_length_and_no_preparation(tmp_path, setup):
    from trl import SFTConfig, SFTTrainer

    tok, _, _, batches = setup
    trainer, _ = _trainer(tmp_path, tok, batches, report_to="none")
    assert isinstance(trainer, SFTTrainer) and isinstance(trainer.args, SFTConfig)
    # TRL's 1024-token default would cut Toucan rows: ours is passed, and the rows come cut.
    assert trainer.args.max_length == 512
    assert trainer.args.dataset_kwargs == {"skip_prepare_dataset": True}
    assert not trainer.args.packing and not trainer.args.padding_free
    assert not trainer.args.activation_checkpointing  # TRL's default is on; ours is the flag
    assert trainer.args.report_to == []


def test_batches_reach_the_model_whole_with_labels_on_assistant_tokens_only(tmp_path, setup):
    tok, examples, stats, batches = setup
    trainer, _ = _trainer(tmp_path, tok, batches)
    seen = labelled = 0
    for batch in trainer.get_train_dataloader():
        assert "attention_mask" not in batch  # right padding, causal: SDPA's fused kernel
        real = batch["input_ids"] != tok.pad_token_id
        seen += int(real.sum())
        labelled += int((batch["labels"] != IGNORE).sum())
    assert (seen, labelled) == (stats.tokens, stats.trained_tokens)
    # Assistant-only: far fewer labels than tokens, and every label is its token or IGNORE.
    assert 0 < stats.trained_tokens < stats.tokens // 2
    for ex in examples:
        assert all(y in (IGNORE, x) for x, y in zip(ex["input_ids"], ex["labels"], strict=True))


def test_trls_loss_and_ours_agree_and_both_train(tmp_path, setup):
    """Ours on a CPU; TRL's fused LM head where it scores only labelled positions (a GPU)."""
    tok, _, _, batches = setup
    trainer, model = _trainer(tmp_path, tok, batches)
    inputs = PaddedCollator(tok.pad_token_id)([batches[0]])
    n = int((inputs["labels"][:, 1:] != IGNORE).sum())
    ours, _ = labelled_loss(model, inputs)
    trainer._own_loss = False  # as on a GPU: TRL's own compute_loss
    trl = trainer.compute_loss(model, dict(inputs))
    trainer._own_loss = None
    torch.testing.assert_close(trl, ours, rtol=1e-5, atol=1e-5)
    # The loss is on assistant tokens only: it equals the cross-entropy over those positions.
    logits = model(input_ids=inputs["input_ids"]).logits[:, :-1]
    targets = inputs["labels"][:, 1:]
    ref = torch.nn.functional.cross_entropy(logits[targets != IGNORE], targets[targets != IGNORE])
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert n > 0
    for own in (None, False):  # ours (decided on the first step), then TRL's
        trainer._own_loss = own
        before = float(trainer.compute_loss(model, dict(inputs)).detach())
        trainer.args.max_steps = 6
        trainer.train()
        assert float(trainer.compute_loss(model, dict(inputs)).detach()) < before


@pytest.mark.slow
def test_a_seed_gives_one_model(records_file, tmp_path, tiny_flags):
    from safetensors.torch import load_file

    def run(name):
        out = train(TrainConfig(data=str(records_file), output=str(tmp_path / name),
                                **{**tiny_flags, "max_steps": 4, "tiny_copy_warmup": 5}))  # fmt: skip
        return load_file(str(out / "model.safetensors")), json.loads(
            (out / "training_summary.json").read_text()
        )

    (a, sa), (b, sb) = run("a"), run("b")
    assert sa["loss_curve"] == sb["loss_curve"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_time_budget_lr_follows_the_clock_and_is_what_the_scheduler_reports(monkeypatch):
    from transformers import TrainerControl, TrainerState

    from ajtrain.train import trainer as trainer_mod

    now = [100.0]
    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: now[0])
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([param], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)  # TRL's "constant"
    cb = trainer_mod._time_budget_callback(100.0, warmup=0.1)
    state, control = TrainerState(), TrainerControl()
    cb.on_train_begin(None, state, control, optimizer=opt, lr_scheduler=sched)
    lrs = []
    for t in (5.0, 50.0, 90.0):  # warm-up, half-way (cosine 0.5), near the end
        now[0] = 100.0 + t
        opt.step()
        sched.step()  # the Trainer steps its scheduler before on_step_end
        cb.on_step_end(None, state, control, optimizer=opt, lr_scheduler=sched)
        assert opt.param_groups[0]["lr"] == pytest.approx(sched.get_last_lr()[0])
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([5e-4, 5e-4, 1e-3 * 0.5 * (1 + math.cos(math.pi * 0.9))])
    sched.step()  # the next step's scheduler call keeps the clock's LR
    assert opt.param_groups[0]["lr"] == pytest.approx(lrs[-1])
    now[0] = 201.0
    cb.on_step_end(None, state, control, optimizer=opt, lr_scheduler=sched)
    assert control.should_training_stop and control.should_save


def test_under_a_time_budget_the_log_counts_down_the_clock_not_the_step_ceiling(monkeypatch):
    from transformers import TrainerControl, TrainerState

    from ajtrain.train import trainer as trainer_mod

    now, lines = [0.0], []
    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(trainer_mod, "_log", lines.append)
    state = TrainerState(max_steps=40_000, global_step=10)  # --epochs 100 under a budget
    for budget, expect in ((600.0, "~540 s left"), (0, "~239940 s left")):
        cb = trainer_mod._plain_log_callback(budget)
        now[0] = 0.0
        cb.on_train_begin(None, state, TrainerControl())
        now[0] = 60.0
        cb.on_log(None, state, TrainerControl(), logs={"loss": 1.0})
        assert lines[-1].endswith(expect), lines[-1]


def test_auto_precision_on_a_cpu_is_bf16_only_for_lora_on_a_base_with_native_bf16(
    monkeypatch, tmp_path
):
    from ajtrain.train import trainer as trainer_mod

    native = tmp_path / "native"
    native.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    emulated = tmp_path / "emulated"
    emulated.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_vnni\n")
    assert trainer_mod.cpu_has_native_bf16(str(native))
    assert not trainer_mod.cpu_has_native_bf16(str(emulated))
    assert not trainer_mod.cpu_has_native_bf16(str(tmp_path / "missing"))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for has, lora, base, expect in (
        (True, True, "some/base", "bf16"),
        (False, True, "some/base", "fp32"),  # emulated bf16 is slower than fp32
        (True, False, "some/base", "fp32"),  # full fine-tuning keeps fp32 weights
        (True, False, "tiny", "fp32"),
    ):
        monkeypatch.setattr(trainer_mod, "cpu_has_native_bf16", lambda has=has: has)
        cfg = TrainConfig(data="-", base_model=base, lora=lora)
        assert trainer_mod._precision(cfg) == expect, (has, lora, base)
    assert trainer_mod._precision(TrainConfig(data="-", precision="fp32", lora=True)) == "fp32"
