"""Seeded uniform sampling of N rows from a stream, in memory that does not grow with N.

Selection sampling (Knuth's Algorithm S): knowing the population size T, the i-th row is taken
with probability (still needed) / (still to see). Every N-subset is equally likely, the sample
comes out in stream order, and the state is two integers and a seeded RNG: no reservoir of rows
(500,000 Toucan rows would be ~20 GB) and no list of N indices. T is counted in a first pass over
the cheap columns only (or read free from parquet footers when no row is filtered out).
"""

from __future__ import annotations

import random


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
