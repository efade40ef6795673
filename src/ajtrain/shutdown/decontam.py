"""Decontamination keys: a training record must not share an opening request and fleet with a
benchmark scenario (docs/TRAINING_ARCHITECTURE.md, "Recipes and the manifest"). Both sides are
reduced to the same key."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from ..records import Record

_SPACE = re.compile(r"\s+")


def scenario_key(request: str, machine_names: Iterable[str]) -> str:
    """Key of (opening request, fleet): request case- and space-normalised, names as a set."""
    text = _SPACE.sub(" ", request.strip().lower())
    names = "\n".join(sorted(set(machine_names)))
    return hashlib.blake2b(f"{text}\x00{names}".encode(), digest_size=12).hexdigest()


def record_key(record: Record) -> str | None:
    """The record's key (from ``meta.scenario``), or None when it has none (e.g. Toucan rows)."""
    scenario = record.get("meta", {}).get("scenario")
    if not isinstance(scenario, dict) or "fleet" not in scenario:
        return None
    return scenario_key(scenario["request"], (m["name"] for m in scenario["fleet"]))


def benchmark_keys() -> frozenset[str]:
    """Keys of every scenario in the held-out ``shutdown_targets`` benchmark."""
    from .benchmark import build_benchmark  # local: the benchmark is only needed here

    return frozenset(scenario_key(s.request, (m.name for m in s.fleet)) for s in build_benchmark())
