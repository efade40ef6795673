"""The training run: data → tokens → micro-batches → TRL's ``SFTTrainer`` → a servable model dir.

TRL (on ``transformers.Trainer``) gives checkpoints, resume, DDP/FSDP/DeepSpeed under
``accelerate launch``, ``report_to``, its fused LM head and a loss normalised over assistant
tokens across accumulation. It is fed pre-tokenized micro-batches with ``labels`` (TRL's
``skip_prepare_dataset``). Ours are the assistant mask (TRL's ``assistant_only_loss`` needs
``{% generation %}`` markers most templates lack), the length-aware batching and, where TRL's
fused head would score every position (no Triton: CPUs), the loss on labelled positions only.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

from ..records import usual_mode, write_json
from .batching import PackedCollator, PaddedCollator, fixed_batches, group_by_length, pack
from .config import TrainConfig
from .data import BOUNDARY_CHECKS, IGNORE, TokenStats, by_source, load_dataset, tokenize
from .summary import write_summary
from .tiny import TinyShape, new_model, train_tokenizer, without_identifiers


def _log(msg: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        from rich.console import Console

        Console(stderr=True).print(f"[bold cyan]train[/] {msg}", highlight=False)


def _set_threads(n: int) -> None:
    import torch

    if n <= 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        n = max(1, (cores or 1) // world)  # DDP ranks on one host share the cores
    torch.set_num_threads(n)


def _tokenizer(cfg: TrainConfig, rows: list, out: Path, args: Any) -> Any:
    """The base's tokenizer; for ``tiny`` one trained on the data once and kept in OUTPUT."""
    from transformers import AutoTokenizer

    if not cfg.is_tiny:
        from .bases import prepare_tokenizer

        tok = AutoTokenizer.from_pretrained(cfg.base_model)
        name = prepare_tokenizer(tok, template=cfg.chat_template or None)
        _log(f"chat template: {name}")
        return tok
    saved = out / "tokenizer"
    # Rank 0 trains it, the others load the same files: every rank must agree on the ids.
    with args.main_process_first(desc="tiny tokenizer"):
        if not (saved / "tokenizer.json").exists():
            from .data import SkipRow, conversation
            from .template import SpanFinder

            sample = random.Random(cfg.seed).sample(rows, min(len(rows), cfg.tiny_tokenizer_rows))
            plain = train_tokenizer([], 300)  # untrained, only to render the template
            render = SpanFinder(plain).render
            texts = []
            for where, obj in sample:
                try:
                    texts.append(without_identifiers(render(*conversation(obj, where), False)))
                except SkipRow:
                    continue
            tok = train_tokenizer(texts, cfg.tiny_vocab)
            tok.save_pretrained(saved)
        return AutoTokenizer.from_pretrained(saved)


def _model(cfg: TrainConfig, tokenizer: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.is_tiny:
        shape = TinyShape(
            vocab_size=cfg.tiny_vocab, hidden_size=cfg.tiny_hidden, num_layers=cfg.tiny_layers,
            num_heads=cfg.tiny_heads, max_positions=max(4096, cfg.resolved_max_length()),
        )  # fmt: skip
        return new_model(tokenizer, shape, cfg.seed)
    # A frozen base under LoRA is held in bf16; fully trained weights stay fp32 (autocast
    # computes in bf16, the optimizer updates fp32 masters).
    frozen_bf16 = cfg.lora and _precision(cfg) == "bf16"
    dtype = torch.bfloat16 if frozen_bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=dtype)
    if cfg.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.05,
            target_modules="all-linear", task_type="CAUSAL_LM",
        )  # fmt: skip
        model = get_peft_model(model, lora)
    return model


def _precision(cfg: TrainConfig) -> str:
    """``--precision auto``: bf16 on a GPU that has it; on a CPU, bf16 only for LoRA on a
    pretrained base and only where the CPU multiplies bf16 natively (1.46x the tokens/s of fp32
    for Gemma 3 270M on 2 AVX512-BF16 cores, same losses to 3 digits;
    docs/TRAINING_ARCHITECTURE.md)."""
    import torch

    if cfg.precision != "auto":
        return cfg.precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cfg.lora and not cfg.is_tiny and cpu_has_native_bf16() else "fp32"


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has bf16 dot-product instructions (AVX512-BF16 or AMX); without them
    bf16 matmuls are emulated and slower than fp32. False where ``cpuinfo`` cannot be read."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def batch_dataset(batches: list[list[dict]]) -> Any:
    """Micro-batches as a ``datasets.Dataset``, one row each, columns of per-example lists.

    ``SFTTrainer`` takes a ``datasets.Dataset`` and, with ``skip_prepare_dataset``, hands its
    rows to the collator as they are; the Trainer draws one row (one micro-batch) per step.
    Token ids are stored as int32 Arrow lists, not Python ints.
    """
    from datasets import Dataset, Features, Sequence, Value

    keys = [k for k in batches[0][0] if k != "n_examples"]
    columns = {k: [[ex[k] for ex in batch] for batch in batches] for k in keys}
    ids = Sequence(Sequence(Value("int32")))
    return Dataset.from_dict(columns, features=Features(dict.fromkeys(keys, ids)))


def _batches(cfg: TrainConfig, examples: list[dict], seed: int) -> list[list[dict]]:
    """Micro-batches as configured (``--batching``); each is one dataset item."""
    max_length = cfg.resolved_max_length()
    if cfg.batching == "packed":
        rows = pack(examples, max_length, seed)
        return fixed_batches(rows, max(1, cfg.resolved_batch_tokens() // max_length), seed)
    if cfg.batching == "grouped":
        return group_by_length(examples, max(cfg.resolved_batch_tokens(), max_length), seed)
    return fixed_batches(examples, max(1, cfg.resolved_batch_tokens() // max_length), seed)


def val_sample(val: list[tuple[str, Any]], n: int, seed: int) -> list[tuple[str, Any]]:
    """A seeded sample of ``n`` validation rows (0: all) spread over the rows' ``source`` in
    proportion, each source keeping at least one row while ``n`` allows: a small sample is not
    left to chance to be all one source, or to hold none of a small one."""
    if not n or len(val) <= n:
        return val
    groups = by_source(val)
    share = {s: n * len(ix) / len(val) for s, ix in groups.items()}
    floor = 1 if n >= len(groups) else 0
    take = {s: min(len(groups[s]), max(floor, int(share[s]))) for s in groups}
    while sum(take.values()) < n:  # largest remainder first; ties by name, for determinism
        s = max((s for s in groups if take[s] < len(groups[s])),
                key=lambda s: (share[s] - take[s], s))  # fmt: skip
        take[s] += 1
    while sum(take.values()) > n:  # only when every source has one row and n is smaller
        s = max((s for s in groups if take[s] > floor), key=lambda s: (take[s] - share[s], s))
        take[s] -= 1
    rng = random.Random(seed)
    picked = sorted(i for s in sorted(groups) for i in rng.sample(groups[s], take[s]))
    return [val[i] for i in picked]


def labelled_loss(model: Any, inputs: dict, num_items_in_batch: Any = None) -> tuple[Any, Any]:
    """The causal-LM loss with logits computed only where a label is (``logits_to_keep``).

    Same value as the model's own loss — summed over labelled tokens, divided by
    ``num_items_in_batch`` (or their count) — but the loss is on assistant tokens, a small
    share of each conversation, and projecting every other position onto the vocabulary was
    about a third of the tiny model's training compute.
    """
    import torch

    labels = inputs["labels"]
    keep = torch.zeros_like(labels, dtype=torch.bool)  # position i predicts label i + 1
    keep[:, :-1] = labels[:, 1:] != IGNORE
    outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=keep)
    logits = outputs.logits.float()  # (labelled tokens, vocab), in row-major order
    targets = labels[:, 1:][keep[:, :-1]]
    loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    n = max(1, int(keep.sum())) if num_items_in_batch is None else num_items_in_batch
    return loss / n, outputs


def _accepts_logits_to_keep(model: Any) -> bool:
    """Whether ``model`` takes a boolean ``(batch, seq)`` ``logits_to_keep`` (transformers 5)."""
    import inspect

    from transformers import modeling_utils

    if not hasattr(modeling_utils, "slice_logits_to_keep"):  # older: no boolean masks
        return False
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def _fused_head_is_sparse(device: Any) -> bool:
    """Whether TRL's fused LM head scores only labelled positions on ``device``.

    It does with its Triton kernels (CUDA, XPU); elsewhere it projects every position onto the
    vocabulary, which on a CPU is the cost :func:`labelled_loss` avoids.
    """
    from transformers.utils import is_triton_available

    return device.type in ("cuda", "xpu") and is_triton_available()


def trainer_class() -> Any:
    """TRL's ``SFTTrainer``, with :func:`labelled_loss` where TRL's own loss would cost more.

    TRL's loss (its fused LM head) where it is sparse, see :func:`_fused_head_is_sparse`;
    otherwise :func:`labelled_loss` for models that take a boolean ``logits_to_keep``.
    """
    from trl import SFTTrainer

    class AJTrainer(SFTTrainer):
        _own_loss: bool | None = None  # labelled_loss rather than TRL's; decided on the first step

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self._own_loss is None:
                trl_sparse = _fused_head_is_sparse(self.accelerator.device)
                unwrapped = self.accelerator.unwrap_model(model)
                self._own_loss = not trl_sparse and _accepts_logits_to_keep(unwrapped)
            if not self._own_loss:
                return self._trl_loss(model, inputs, return_outputs, num_items_in_batch)
            loss, outputs = labelled_loss(model, inputs, num_items_in_batch)
            if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                loss = loss * self.accelerator.num_processes  # as Trainer does: DDP averages
            return (loss, outputs) if return_outputs else loss

        def _trl_loss(self, model, inputs, return_outputs, num_items_in_batch):
            """TRL's loss on our mask-free right-padded rows (see ``PaddedCollator``)."""
            import torch

            if "attention_mask" in inputs or "position_ids" in inputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # TRL counts tokens from one of the two. Plain positions leave attention as it is
            # (one sequence per row: no packed mask); TRL then counts one row's width, the
            # other rows are added below.
            ids = inputs["input_ids"]
            inputs["position_ids"] = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
            result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.model.training:
                rest = torch.tensor(ids.numel() - ids.shape[1], device=ids.device)
                self._total_train_tokens += self.accelerator.gather_for_metrics(rest).sum().item()
            return result

    return AJTrainer


def _time_budget_callback(budget_s: float, warmup: float) -> Any:
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        """Stop (with a checkpoint) once the budget is spent; the LR follows a cosine over time.

        A step-count schedule would be cut off at a high LR; this one reaches ~0 at the budget.
        The scheduler sets it: the "constant" schedule's multiplier (``SFTConfig``) becomes the
        clock's, so the LR the optimizer uses is the one the scheduler reports and logs.
        """

        def scale(self, _step: int = 0) -> float:
            frac = min(1.0, (time.monotonic() - self.t0) / budget_s)
            scale = frac / warmup if frac < warmup else 0.5 * (1 + math.cos(math.pi * frac))
            return max(scale, 0.02)

        def on_train_begin(self, args, state, control, lr_scheduler=None, **kw):
            self.t0 = time.monotonic()
            lr_scheduler.lr_lambdas = [self.scale] * len(lr_scheduler.lr_lambdas)

        def on_step_end(self, args, state, control, **kw):
            if time.monotonic() - self.t0 >= budget_s:
                control.should_training_stop = True
                control.should_save = True
                control.should_evaluate = True

    return TimeBudget()


def _plain_log_callback(budget_s: float = 0) -> Any:
    from transformers import TrainerCallback

    class PlainLog(TrainerCallback):
        """One plain line per logging step (the progress bar is transient and hidden off a
        terminal, so a log file would otherwise show nothing until the end)."""

        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.monotonic()
            _log(f"training: {state.max_steps} steps")

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or not state.is_world_process_zero:
                return
            done = max(1, state.global_step)
            spent = time.monotonic() - self.t0
            left = spent / done * max(0, state.max_steps - done)
            if budget_s > 0:  # the clock stops it first (max_steps is then only a ceiling)
                left = min(left, max(0.0, budget_s - spent))
            shown = ", ".join(
                f"{k} {v:.4g}" for k, v in logs.items()
                if k in ("loss", "eval_loss", "learning_rate", "grad_norm")
            )  # fmt: skip
            _log(f"step {state.global_step}/{state.max_steps}: {shown}; {spent:.0f} s, "
                 f"~{left:.0f} s left")  # fmt: skip

    return PlainLog()


def training_args(cfg: TrainConfig, out: Path, has_val: bool) -> Any:
    """TRL's ``SFTConfig`` (``TrainingArguments`` and TRL's own fields) for ``cfg``."""
    import torch
    from trl import SFTConfig

    precision = _precision(cfg)
    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        # Rows come tokenized, labelled, cut to max_length and batched (data.py, batching.py):
        # TRL's preparation (tokenizing, its 1024-token default cut, packing) is skipped.
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=cfg.resolved_max_length(),
        packing=False,
        padding_free=False,
        per_device_train_batch_size=1,  # one item = one micro-batch (see batching.py)
        per_device_eval_batch_size=1,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.resolved_learning_rate(),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        # With a time budget the LR follows the clock instead (see _time_budget_callback).
        lr_scheduler_type="constant" if cfg.time_budget_s > 0 else "cosine",
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        weight_decay=cfg.weight_decay,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if has_val else "no",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        report_to=[r.strip() for r in cfg.report_to.split(",") if r.strip()] or "none",
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,  # validation loss only: no logits kept across batches
        activation_checkpointing=cfg.gradient_checkpointing,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def _latest_checkpoint(ckpt_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None


def train(cfg: TrainConfig) -> Path:
    """Fine-tune ``cfg.base_model`` on ``cfg.data``; return the output directory.

    The directory loads with ``AutoModelForCausalLM``/``AutoTokenizer.from_pretrained`` (chat
    template inside) and holds ``training_summary.json`` and ``loss_curve.png``.
    """
    from dataclasses import replace

    import torch
    from transformers import set_seed

    from .bases import resolve_base

    t0 = time.monotonic()
    # A packaged name or a *.gguf file becomes a cached HF directory (converted once);
    # --precision auto is resolved once, here (every later _precision(cfg) returns it).
    requested = cfg.precision
    cfg = replace(cfg, base_model=resolve_base(cfg.base_model))
    cfg = replace(cfg, precision=_precision(cfg))
    out = Path(cfg.output)
    resume_from = _latest_checkpoint(out / "checkpoints") if cfg.resume else None
    if cfg.resume and resume_from is None:
        raise FileNotFoundError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    _set_threads(cfg.threads)
    set_seed(cfg.seed)

    ds = load_dataset(cfg.data, cfg.val_fraction, cfg.seed)
    # The arguments set up the process group, which the output clean-up and tokenizer need.
    args = training_args(cfg, out, bool(ds.val))
    _log(f"precision: {cfg.precision} (--precision {requested})")
    with args.main_process_first(desc="output directory"):
        if args.process_index == 0 and not cfg.resume:
            # A fresh run must not mix with an old run's checkpoints or tokenizer.
            for stale in ("checkpoints", "tokenizer"):
                shutil.rmtree(out / stale, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(cfg, ds.train, out, args)
    max_length = cfg.resolved_max_length()
    train_ex, train_stats = tokenize(ds.train, tokenizer, max_length, loss_on=cfg.loss_on)
    val = val_sample(ds.val, cfg.val_rows, cfg.seed)
    val_ex, val_stats = tokenize(val, tokenizer, max_length) if val else ([], TokenStats())
    _check_usable(cfg, train_stats)
    if train_stats.boundary_mismatch_turns:
        _log(
            f"[yellow]warning:[/] {train_stats.boundary_mismatch_turns} assistant turns of the "
            f"first {BOUNDARY_CHECKS} rows: the generation prompt does not tokenize as a prefix "
            "of the trained text, so the model is trained on token boundaries it never sees at "
            "generation; try --chat-template hermes or gemma"
        )
    if ds.val and not val_ex:
        raise ValueError(
            f"{cfg.data}: no usable validation records ({'; '.join(val_stats.examples)})"
        )
    _log(
        f"{train_stats.kept} training examples ({train_stats.tokens} tokens, "
        f"{train_stats.trained_tokens} on assistant turns), {len(val_ex)} validation; "
        f"truncated {train_stats.truncated}{_cuts(train_stats)}; "
        f"skipped {dict(train_stats.skipped) or 'none'}"
    )
    train_rows = _batches(cfg, train_ex, cfg.seed)
    n_batches = len(train_rows)
    train_data = batch_dataset(train_rows)
    val_data = batch_dataset(_batches(cfg, val_ex, cfg.seed)) if val_ex else None
    del train_ex, val_ex, train_rows  # training reads the Arrow copies, a fraction of the lists
    pad_id = tokenizer.pad_token_id
    collator = PackedCollator(pad_id) if cfg.batching == "packed" else PaddedCollator(pad_id)

    model = _model(cfg, tokenizer)
    model.config.use_cache = False  # a cache would switch off the packed (block-diagonal) mask
    warm = None
    if cfg.is_tiny and cfg.tiny_copy_warmup > 0 and resume_from is None:
        from .tiny import copy_warmup

        _log(
            f"copy drills first: at most {cfg.tiny_copy_warmup} steps (--tiny-copy-warmup; 0 "
            "skips them), stopping once the model copies 95%; not counted in --max-steps"
        )
        # Under a time budget, the drills may use at most half of it.
        warm = copy_warmup(model, tokenizer, cfg.tiny_copy_warmup, cfg.seed,
                           max_seconds=cfg.time_budget_s / 2,
                           show_progress=int(os.environ.get("RANK", "0")) == 0,
                           log=_log)  # fmt: skip
        _log(
            f"copy warm-up: {warm.steps} + {warm.small_steps} steps in {warm.seconds:.0f} s, "
            f"copies {warm.copy_accuracy:.0%} of drill tokens "
            f"({warm.small_copy_accuracy:.0%} from small alphabets)"
        )
    budget = max(1.0, cfg.time_budget_s - (warm.seconds if warm else 0.0))
    callbacks = [_plain_log_callback(budget if cfg.time_budget_s > 0 else 0)]
    if cfg.time_budget_s > 0:
        callbacks.append(_time_budget_callback(budget, cfg.warmup_ratio))
    trainer = trainer_class()(
        model=model,
        args=args,
        train_dataset=train_data,
        eval_dataset=val_data,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    t_train = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume_from)
    train_s = time.monotonic() - t_train
    final_eval = trainer.evaluate() if val_data is not None else {}
    source_losses = _loss_by_source(trainer, cfg, val, tokenizer, max_length) if val_data else {}
    trainer.save_state()
    _save_model(trainer, tokenizer, out, cfg)
    if trainer.is_world_process_zero():
        write_summary(
            out, cfg=cfg, ds=ds, train_stats=train_stats, val_stats=val_stats,
            state=trainer.state, result=result, final_eval=final_eval,
            n_batches=n_batches, train_s=train_s, total_s=time.monotonic() - t0,
            resumed_from=resume_from, n_params=sum(p.numel() for p in model.parameters()),
            threads=torch.get_num_threads(), world_size=trainer.args.world_size,
            precision=cfg.precision, warmup=warm, val_loss_by_source=source_losses,
        )  # fmt: skip
    return out


def _loss_by_source(
    trainer: Any, cfg: TrainConfig, val: list, tokenizer: Any, max_length: int
) -> dict[str, float]:
    """The final validation loss of each ``source`` (shutdown, toucan, ...) apart, when the
    sample holds more than one: a pooled loss over a few rows says little about either."""
    groups = by_source(val)
    if len(groups) < 2:
        return {}
    out = {}
    for source, ix in sorted(groups.items()):
        examples, _ = tokenize([val[i] for i in ix], tokenizer, max_length)
        if examples:
            data = batch_dataset(_batches(cfg, examples, cfg.seed))
            got = trainer.evaluate(eval_dataset=data, metric_key_prefix="eval_source")
            out[source] = round(got["eval_source_loss"], 4)
    _log("final validation loss by source: " + ", ".join(f"{s} {v}" for s, v in out.items()))
    return out


def _cuts(stats: TokenStats) -> str:
    if not stats.truncated:
        return ""
    top = ", ".join(f"{g} {n}" for g, n in stats.truncated_by.most_common(4))
    return f" ({top}; {stats.cut_trained_tokens} assistant tokens cut: raise --max-length?)"


def _check_usable(cfg: TrainConfig, stats: TokenStats) -> None:
    if stats.kept == 0:
        detail = "; ".join(stats.examples) or "no rows"
        raise ValueError(f"{cfg.data}: no trainable records ({detail})")
    skipped = sum(stats.skipped.values())
    if skipped:
        _log(f"[yellow]skipped {skipped} of {stats.rows} rows[/]: " + "; ".join(stats.examples[:3]))


def _merged(model: Any, cfg: TrainConfig) -> Any:
    """The LoRA adapters merged into the base as it is stored: a base held in bf16 for training
    (``_model``) is loaded again in its own dtype, so weights training did not touch are written
    unchanged (not rounded to bf16) and the adapters are added at full precision."""
    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    if model.get_base_model().dtype != torch.bfloat16 or _precision(cfg) != "bf16":
        return model.merge_and_unload()
    base = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype="auto")
    if base.dtype == torch.bfloat16:  # stored in bf16: nothing to restore
        return model.merge_and_unload()
    lora = model.peft_config["default"]
    fresh = get_peft_model(base, lora, autocast_adapter_dtype=False)
    set_peft_model_state_dict(fresh, get_peft_model_state_dict(model))
    return fresh.merge_and_unload()


def _save_model(trainer: Any, tokenizer: Any, out: Path, cfg: TrainConfig) -> None:
    """Write weights, config and tokenizer into ``out`` via a staging dir (no half-written model).

    Called on every rank: ``Trainer.save_model`` gathers FSDP / ZeRO-3 shards before rank 0 writes.
    LoRA adapters are merged into the base so the output is a plain model (loads anywhere,
    serves in vLLM).
    """
    stage = out / ".staging"
    main = trainer.is_world_process_zero()
    if main:
        shutil.rmtree(stage, ignore_errors=True)
    model = trainer.model
    config = model.get_base_model().config if cfg.lora else model.config
    config.use_cache = True  # off for packed training only
    if cfg.lora:
        if main:
            _merged(model, cfg).save_pretrained(stage, safe_serialization=True)
            tokenizer.save_pretrained(stage)
    else:
        trainer.save_model(str(stage))
    if main:
        for path in stage.iterdir():
            if path.name != "training_args.bin":
                usual_mode(path)  # transformers writes the weights 0600
                os.replace(path, out / path.name)
        shutil.rmtree(stage)
        write_json(out / "ajtrain_train_config.json", vars(cfg))
    trainer.accelerator.wait_for_everyone()
