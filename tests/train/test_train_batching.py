"""Packing: rows within capacity, every example once, and no attention across examples."""

from __future__ import annotations

import random

import torch

from ajtrain.train.batching import (
    PackedCollator,
    PaddedCollator,
    fixed_batches,
    group_by_length,
    pack,
)
from ajtrain.train.data import IGNORE
from ajtrain.train.tiny import TinyShape, new_model, train_tokenizer


def _examples(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.choice([5, 17, 40, 90, 200])
        ids = [rng.randrange(3, 300) for _ in range(length)]
        out.append({"input_ids": ids, "labels": [IGNORE] + ids[1:], "tag": i})
    return out


def test_pack_fits_capacity_and_keeps_every_token():
    examples = _examples(300)
    rows = pack(examples, capacity=256, seed=1)
    assert all(len(r["input_ids"]) <= 256 for r in rows)
    assert sum(len(r["input_ids"]) for r in rows) == sum(len(e["input_ids"]) for e in examples)
    assert sum(r["n_examples"] for r in rows) == len(examples)
    # Dense: first-fit decreasing wastes little on this mix.
    assert len(rows) <= 1.1 * sum(len(e["input_ids"]) for e in examples) / 256 + 1
    assert pack(examples, 256, seed=1) == rows  # seeded


def test_packed_examples_do_not_attend_to_each_other():
    tok = train_tokenizer(["hello world " * 20], 300)
    model = new_model(tok, TinyShape(hidden_size=32, num_layers=2, num_heads=2), seed=0).eval()
    model.config.use_cache = False
    examples = _examples(3, seed=5)[:3]
    for ex in examples:
        ex["input_ids"] = [t % len(tok) for t in ex["input_ids"]]
    row = pack(examples, capacity=1000, seed=0)
    assert len(row) == 1 and row[0]["n_examples"] == 3
    batch = PackedCollator(tok.pad_token_id)([row])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        pos = 0
        starts = [i for i, p in enumerate(row[0]["position_ids"]) if p == 0]
        for start in starts:
            end = next((s for s in starts if s > start), len(row[0]["input_ids"]))
            alone = model(input_ids=batch["input_ids"][:, start:end]).logits[0]
            torch.testing.assert_close(packed[start:end], alone, atol=1e-4, rtol=1e-4)
            pos += 1
    assert pos == 3
    # Control: without the position resets the same row does leak across examples.
    with torch.no_grad():
        leaky = model(input_ids=batch["input_ids"]).logits[0]
    assert not torch.allclose(leaky[starts[1] :], packed[starts[1] :], atol=1e-3)


def test_right_padded_rows_match_each_example_alone():
    """No attention mask is needed: under causal attention real tokens never see trailing pads."""
    tok = train_tokenizer(["hello world " * 20], 300)
    model = new_model(tok, TinyShape(hidden_size=32, num_layers=2, num_heads=2), seed=0).eval()
    examples = [
        {"input_ids": ids, "labels": [IGNORE] + ids[1:]} for ids in ([5, 6, 7, 8, 9], [10, 11])
    ]
    batch = PaddedCollator(pad_id=tok.pad_token_id)([examples])
    assert "attention_mask" not in batch
    assert batch["labels"][1].tolist() == [IGNORE, 11, IGNORE, IGNORE, IGNORE]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
        for row, ex in enumerate(examples):
            n = len(ex["input_ids"])
            alone = model(input_ids=torch.tensor([ex["input_ids"]])).logits[0]
            torch.testing.assert_close(logits[row, :n], alone, atol=1e-5, rtol=1e-4)


def test_grouped_batches_fit_the_budget_and_keep_every_example():
    examples = _examples(300)
    batches = group_by_length(examples, batch_tokens=1024, seed=3)
    assert sorted(e["tag"] for b in batches for e in b) == list(range(300))
    for b in batches:
        assert len(b) * max(len(e["input_ids"]) for e in b) <= 1024 or len(b) == 1

    # Similar lengths together: far less padding than shuffled fixed-size batches.
    def padding(bs):
        return sum(len(b) * max(len(e["input_ids"]) for e in b) for b in bs)

    assert padding(batches) < 0.7 * padding(fixed_batches(examples, 8, seed=3))
    assert group_by_length(examples, 1024, seed=3) == batches  # seeded
