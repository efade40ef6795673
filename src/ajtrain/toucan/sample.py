"""Seeded sampling of N rows: row groups first (so a sample reads O(N) bytes), then rows.

Row groups: parquet shards are read by row group, the unit a reader can fetch alone, and their
footers give each group's row count for free. :func:`choose_row_groups` takes groups in a seeded
random order until they hold N eligible rows, and only those are read. The draw is uniform over
rows when N reaches the population; for smaller N it is a cluster sample: every group is equally
likely to be chosen (rows have about the same chance, exactly so when groups are of one size),
but the rows of one group come together. Toucan's shards are ordered
(a shard often holds one subset), so a small sample can hold fewer subsets than the whole config;
``--subset`` picks them explicitly. JSONL mirrors have no row groups and are scanned whole.

Rows, within the chosen groups, by selection sampling (Knuth's Algorithm S): knowing the population size T, the i-th row is taken
with probability (still needed) / (still to see). Every N-subset is equally likely, the sample
comes out in stream order, and the state is two integers and a seeded RNG: no reservoir of rows
(500,000 Toucan rows would be ~20 GB) and no list of N indices. T is counted on the cheap columns
only (or read free from parquet footers when no row is filtered out).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

G = TypeVar("G")


def parse_sample(text: str | int | None) -> int | None:
    """``"5000"``/``"5,000"``/``"5_000"`` -> 5000; ``"all"``/``None`` -> ``None`` (no sampling)."""
    if text is None or isinstance(text, int):
        if isinstance(text, int) and text < 0:
            raise ValueError(f"--sample: expected a count >= 0 or 'all', got {text}")
        return text
    cleaned = str(text).strip().lower().replace(",", "").replace("_", "")
    if cleaned in ("all", ""):
        return None
    if not cleaned.isdigit():
        raise ValueError(f"--sample: expected a count (e.g. 5000) or 'all', got {text!r}")
    return int(cleaned)


class SelectionSampler:
    """Decides, row by row in stream order, whether each of ``total`` rows is in the sample."""

    __slots__ = ("needed", "remaining", "_random")

    def __init__(self, total: int, n: int, seed: int):
        self.needed = min(n, total)
        self.remaining = total
        # A string seed is hashed with SHA-512 by `random`: stable across runs and platforms.
        self._random = random.Random(f"ajtrain.toucan.sample:{seed}").random

    def take(self) -> bool:
        """Whether the next row is taken; call exactly once per row of the population."""
        if self.remaining <= 0:
            raise ValueError("sampler: more rows than the population it was counted for")
        hit = self.needed > 0 and self._random() * self.remaining < self.needed
        self.remaining -= 1
        if hit:
            self.needed -= 1
        return hit

    @property
    def done(self) -> bool:
        """True once the whole sample is drawn: the rest of the stream need not be read."""
        return self.needed == 0


def choose_row_groups(
    groups: Sequence[G], n: int, seed: int, eligible: Callable[[G], int]
) -> tuple[list[G], int]:
    """Groups taken in a seeded random order until they hold ``n`` eligible rows (or all are
    taken), returned in stream order with their eligible total: the sampling population.

    ``eligible(group)`` counts a group's rows that pass the filters; it is only called for the
    groups looked at, so unfiltered loads cost nothing and filtered ones read the cheap columns
    of those groups alone.
    """
    order = list(range(len(groups)))
    random.Random(f"ajtrain.toucan.row_groups:{seed}").shuffle(order)
    chosen, population = [], 0
    for i in order:
        if population >= n:
            break
        count = eligible(groups[i])
        if count:
            chosen.append(i)
            population += count
    return [groups[i] for i in sorted(chosen)], population
