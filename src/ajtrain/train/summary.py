"""``training_summary.json`` and ``loss_curve.png``: what a run did, for people and for the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..records import atomic_write, write_json


def loss_curve(log_history: list[dict]) -> dict[str, list]:
    """Training and validation loss by step, from the Trainer's log history."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    val = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    return {
        "train_steps": [s for s, _ in train], "train_loss": [v for _, v in train],
        "val_steps": [s for s, _ in val], "val_loss": [v for _, v in val],
    }  # fmt: skip


def write_summary(out: Path, *, cfg: Any, ds: Any, train_stats: Any, val_stats: Any, state: Any,
                  result: Any, final_eval: dict, n_batches: int, train_s: float, total_s: float,
                  resumed_from: str | None, n_params: int, threads: int, world_size: int,
                  precision: str, warmup: Any = None,
                  val_loss_by_source: dict | None = None) -> dict:  # fmt: skip
    """Write ``training_summary.json`` and ``loss_curve.png`` into ``out``; return the summary."""
    curve = loss_curve(state.log_history)
    tokens = int(state.num_input_tokens_seen or 0)
    summary = {
        "base_model": cfg.base_model,
        "data": {"files": ds.files, "manifest_hash": ds.manifest_hash,
                 "train_rows": len(ds.train), "val_rows": len(ds.val)},
        "tokenization": {"train": train_stats.as_dict(), "val": val_stats.as_dict(),
                         "max_length": cfg.resolved_max_length()},
        "copy_warmup": None if warmup is None else {
            "steps": warmup.steps, "seconds": round(warmup.seconds, 2),
            "copy_accuracy": round(warmup.copy_accuracy, 4),
            "small_alphabet_steps": warmup.small_steps,
            "small_alphabet_copy_accuracy": round(warmup.small_copy_accuracy, 4)},
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "epochs": state.epoch,
        "micro_batches_per_epoch": n_batches,
        "tokens_seen": tokens,
        "train_seconds": round(train_s, 2),
        "total_seconds": round(total_s, 2),
        "tokens_per_second": round(tokens / train_s, 1) if train_s > 0 else None,
        "final_train_loss": curve["train_loss"][-1] if curve["train_loss"] else None,
        "final_val_loss": final_eval.get("eval_loss"),
        "final_val_loss_by_source": val_loss_by_source or {},
        "loss_curve": curve,
        "parameters": n_params,
        "torch_threads": threads,
        "precision": precision,  # what --precision resolved to
        "world_size": world_size,
        "resumed_from": resumed_from,
        "config": dataclasses.asdict(cfg),
    }  # fmt: skip
    write_json(out / "training_summary.json", summary)
    plot_loss(curve, out / "loss_curve.png", title=f"ajtrain train: {cfg.base_model}")
    return summary


def plot_loss(curve: dict[str, list], path: Path, title: str) -> None:
    """A PNG of training and validation loss against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(curve["train_steps"], curve["train_loss"], label="train")
    if curve["val_steps"]:
        ax.plot(curve["val_steps"], curve["val_loss"], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
