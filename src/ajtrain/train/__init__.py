"""Training: supervised fine-tuning on records, loss on assistant tokens only
(docs/TRAINING_ARCHITECTURE.md, "Train").

``train(TrainConfig) -> Path`` is the entry point; torch and transformers load on first use.
"""

from __future__ import annotations

from pathlib import Path

from .config import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(config: TrainConfig) -> Path:
    """Run training as configured and return the output model directory."""
    from .trainer import train as _train

    return _train(config)
