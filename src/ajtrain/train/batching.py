"""Length-aware packing: several examples per row, each attending only to itself.

Examples are packed first-fit-decreasing into rows of ``max_length`` tokens. Each example's
``position_ids`` restart at 0, and the collator passes no ``attention_mask``: transformers then
derives a block-diagonal causal mask from the position resets (``find_packed_sequence_indices``),
so packed examples never attend to each other (``tests/train`` checks the logits). The padded
collator is the plain baseline ``bench/`` compares against.
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


class PackedCollator:
    """Stack packed rows; row ends are padded as one more (ignored) sequence, no attention mask."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list]]) -> dict[str, Any]:
        import torch

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
    """The plain baseline: one example per row, right-padded to the longest in the batch."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, mask = [], [], []
        for r in rows:
            n = len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * (width - n))
            labels.append(r["labels"] + [IGNORE] * (width - n))
            mask.append([1] * n + [0] * (width - n))
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }
