"""The held-out ``shutdown_targets`` benchmark: scenarios from the ``bench`` pools (names,
fleets, phrasings the generator never uses), adversarial near-duplicates, patterns with excluded
members, and the guide's incident as a fixed regression scenario."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from .build import build
from .canonical import incident
from .scenario import Scenario

BENCHMARK_COUNTS = {
    "explicit": 60,
    "ambiguous": 60,
    "error_recovery": 40,
    "bulk_confirmation": 45,
    "guardrail": 25,
    "not_found": 45,
    "read_only": 35,
}
BENCHMARK_SEED = 20251124  # fixed: the benchmark is the same for everyone


def build_benchmark(seed: int = BENCHMARK_SEED) -> list[Scenario]:
    rng = random.Random(seed)
    out = [incident()]
    for category, k in BENCHMARK_COUNTS.items():
        for i in range(k):
            out.append(build(category, rng, "bench", f"bench/{category}/{i:03d}"))
    return out


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Scenarios from a JSONL file (one ``Scenario.to_dict()`` per line), for ``--scenarios``."""
    out = []
    first_line: dict[str, int] = {}
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: invalid JSON ({e})") from None
                if not isinstance(obj, dict):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object (a scenario)")
                scenario = Scenario.from_dict(obj, where=f"{path}:{lineno}")
                if scenario.id in first_line:  # results are keyed by id: one would hide the other
                    raise ValueError(
                        f"{path}:{lineno}: field 'id': {scenario.id!r} repeats line "
                        f"{first_line[scenario.id]}"
                    )
                first_line[scenario.id] = lineno
                out.append(scenario)
    if not out:
        raise ValueError(f"{path}: no scenarios")
    return out
