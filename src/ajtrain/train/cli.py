"""``ajtrain train``: a thin wrapper over :func:`ajtrain.train.train`."""

from __future__ import annotations

from .config import TrainConfig


def run(cfg: TrainConfig) -> int:
    """``ajtrain train``: train and print where the model went."""
    from .trainer import train

    print(train(cfg))
    return 0
