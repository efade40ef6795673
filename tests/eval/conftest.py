"""A tiny trained model directory (the train stage's real output, a few steps on generated
shutdown trajectories), shared by the model-directory tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from ajtrain.shutdown.cli import GenerateConfig, generate
    from ajtrain.train import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny_model")
    data = root / "data.jsonl"
    generate(GenerateConfig(n=40, seed=1, out=str(data)), progress=False)
    return train(TrainConfig(
        data=str(data), output=str(root / "model"), max_steps=2, val_fraction=0,
        tiny_vocab=400, tiny_hidden=32, tiny_layers=2, tiny_heads=2, tiny_tokenizer_rows=40,
        tiny_copy_warmup=0,
        max_length=1024, batch_tokens=2048, logging_steps=1, save_steps=1000, eval_steps=1000,
        learning_rate=3e-3, threads=2,
    ))  # fmt: skip
