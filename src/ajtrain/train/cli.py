"""``ajtrain train``: a thin wrapper over :func:`ajtrain.train.train`."""

from __future__ import annotations

import argparse

from ..config import add_arguments, from_args
from .config import TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="supervised fine-tuning on records (loss on assistant turns only)",
        description=(
            "Fine-tune a causal LM on tool-calling conversations. The default base 'tiny' trains "
            "a small Qwen2 and its tokenizer from scratch (offline, CPU); --base-model takes any "
            "HF model, with --lora for adapters. Works under `accelerate launch` unchanged "
            "(configs/accelerate_*.yaml for DDP, FSDP, DeepSpeed)."
        ),
    )
    add_arguments(parser, TrainConfig)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .trainer import train

    out = train(from_args(TrainConfig, args))
    print(out)
    return 0
