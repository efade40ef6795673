"""Length-aware batching: micro-batches with a token budget, examples never attending to each other.

Three ways to cut the examples into micro-batches (each dataset item is one whole micro-batch):

- ``grouped``: examples of similar length together, as many as fit ``batch_tokens`` once padded.
  Little padding and attention only within each example: the fastest on a CPU.
- ``packed``: examples packed first-fit-decreasing into rows of ``max_length`` tokens, each
  example's ``position_ids`` restarting at 0 and no ``attention_mask``, from which transformers
  derives a block-diagonal causal mask (``find_packed_sequence_indices``; ``tests/train`` checks
  the logits). No padding at all; with flash-attention kernels the masked blocks cost nothing.
- ``padded``: the plain baseline — a fixed number of shuffled examples padded to the longest.
"""

from __future__ import annotations

import random
from typing import Any

from .data import IGNORE


def pack(examples: list[dict[str, list[int]]], capacity: int, seed: int) -> list[dict[str, list]]:
    """Pack examples into rows of at most ``capacity`` tokens (first-fit decreasing).

    The rows come back shuffled (seeded) so a batch mixes long and short examples.
    """
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    closed: list[list[int]] = []  # nearly full bins, out of the first-fit scan
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(examples[i]["input_ids"])
        for b, free in enumerate(room):
            if n <= free:
                bins[b].append(i)
                room[b] -= n
                break
        else:
            bins.append([i])
            room.append(capacity - n)
        if len(room) > 64:  # keep the scan short: close bins that only a tiny example could fill
            closed += [bins[b] for b in range(len(room)) if room[b] < 32]
            keep = [b for b in range(len(room)) if room[b] >= 32]
            bins, room = [bins[b] for b in keep], [room[b] for b in keep]
    rows = [_row([examples[i] for i in b]) for b in closed + bins]
    random.Random(seed).shuffle(rows)
    return rows


def _row(parts: list[dict[str, list[int]]]) -> dict[str, list]:
    ids, labels, pos = [], [], []
    for ex in parts:
        ids += ex["input_ids"]
        labels += ex["labels"]
        pos += range(len(ex["input_ids"]))
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "n_examples": len(parts)}


def group_by_length(
    examples: list[dict[str, list[int]]], batch_tokens: int, seed: int
) -> list[list[dict]]:
    """Micro-batches of similar-length examples, each within ``batch_tokens`` once padded."""
    rng = random.Random(seed)
    # Sort by length with a random tie-break, so equal lengths do not always batch together.
    order = sorted(
        range(len(examples)), key=lambda i: (len(examples[i]["input_ids"]), rng.random())
    )
    batches: list[list[dict]] = []
    current: list[dict] = []
    for i in order:
        n = len(examples[i]["input_ids"])  # the longest so far: sorted ascending
        if current and (len(current) + 1) * n > batch_tokens:
            batches.append(current)
            current = []
        current.append(examples[i])
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def fixed_batches(examples: list[dict], size: int, seed: int) -> list[list[dict]]:
    """Shuffled micro-batches of ``size`` examples (the plain baseline, or packed rows)."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    return [order[k : k + size] for k in range(0, len(order), size)]


def _rows(items: list) -> list[dict[str, list]]:
    """The examples (or packed rows) of ``items``: each item is one micro-batch, either a list of
    example dicts or, as a ``datasets.Dataset`` row gives it, a dict of per-example columns."""
    rows = []
    for item in items:
        if isinstance(item, dict):
            keys = list(item)
            rows += [
                dict(zip(keys, values, strict=True)) for values in zip(*item.values(), strict=True)
            ]
        else:
            rows += item
    return rows


class PackedCollator:
    """Stack packed rows; row ends are padded as one more (ignored) sequence, no attention mask."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list) -> dict[str, Any]:
        import torch

        rows = _rows(items)
        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, pos = [], [], []
        for r in rows:
            extra = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * extra)
            labels.append(r["labels"] + [IGNORE] * extra)
            pos.append(list(r["position_ids"]) + list(range(extra)))
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "position_ids": torch.tensor(pos),
        }


class PaddedCollator:
    """One example per row, right-padded to the longest in the micro-batch (grouped, padded).

    No attention mask: with right padding and causal attention no real token can see a pad (pads
    come after it), and without a mask SDPA takes its fused causal kernel. Pads' own outputs are
    ignored through their ``-100`` labels.
    """

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list) -> dict[str, Any]:
        import torch

        rows = _rows(items)
        width = max(len(r["input_ids"]) for r in rows)
        ids, labels = [], []
        for r in rows:
            extra = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * extra)
            labels.append(r["labels"] + [IGNORE] * extra)
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
