"""The generator: scenarios → expert episodes → verified records.

Every written trajectory passes the checker; one that does not is a bug and stops the run with
the violation, it is never dropped silently.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from ..fleet import tool_schemas
from ..records import Record, make_record
from .checker import check_transcript
from .episode import run_episode
from .name_pools import made_up_word
from .policies import Expert
from .scenario import Scenario

# Mix of categories for --n (the canonical 20's proportions, plus read-only requests).
WEIGHTS = {
    "explicit": 0.18,
    "ambiguous": 0.22,
    "error_recovery": 0.13,
    "bulk_confirmation": 0.14,
    "guardrail": 0.08,
    "not_found": 0.13,
    "read_only": 0.12,
}
GENERATOR_VERSION = "1"


class GenerationError(RuntimeError):
    """The expert produced a trajectory the checker rejects: a bug in ajtrain, not in the input."""


def category_counts(n: int, weights: dict[str, float] = WEIGHTS) -> dict[str, int]:
    """Exact integer counts summing to ``n`` (largest remainder), every category at least 1."""
    raw = {c: n * w for c, w in weights.items()}
    counts = {c: int(x) for c, x in raw.items()}
    for c in sorted(raw, key=lambda c: raw[c] - counts[c], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[c] += 1
    return counts


def scenario_to_record(scenario: Scenario, policy=None, user_pool: str = "train") -> Record:
    """Play the expert on ``scenario``, check the transcript, and return it as a record."""
    ep = run_episode(scenario, policy or Expert(), user_pool)
    verdict = check_transcript(scenario, ep.messages)
    if not verdict.ok or ep.truncated:
        problems = "; ".join(map(str, verdict.violations)) or "episode did not finish"
        raise GenerationError(f"scenario {scenario.id}: expert trajectory rejected: {problems}")
    return make_record(
        id=scenario.id,
        source="shutdown",
        category=scenario.category,
        tools=tool_schemas(),
        messages=ep.messages,
        meta={"scenario": scenario.to_dict(), "checker": "pass", "generator": GENERATOR_VERSION},
    )


def noisy_request(rng: random.Random, request: str) -> str:
    """``request`` with 1–3 made-up words before it, after it, or both ('vobe fi: Shut down web7')."""

    def words() -> str:
        return " ".join(made_up_word(rng) for _ in range(rng.randint(1, 3)))

    where = rng.randrange(3)
    if where == 0:
        return f"{words().capitalize()}: {request}"
    if where == 1:
        return f"{request} {words()}."
    return f"{words().capitalize()}, {request} {words()}."


def procedural_scenarios(
    n: int,
    seed: int,
    pool: str = "train",
    fleet=None,
    request_noise: float = 0.0,
    categories: tuple[str, ...] | None = None,
    near_misses: float | None = None,
    bulk_look_alikes: float | None = None,
) -> Iterator[Scenario]:
    """``n`` varied scenarios; with ``fleet`` (the user's inventory) they are built on it.
    ``categories``: only these, sharing ``n`` in their usual proportions (default all).
    ``near_misses``: the share of explicit requests (procedural fleets only) whose fleet holds
    near-duplicates of the named machine (default ``build.NEAR_MISSES``); ``bulk_look_alikes``:
    the chance of each look-alike outside a bulk pattern (default ``build.BULK_LOOK_ALIKES``).

    ``request_noise``: the share of opening requests that get made-up words around them (see
    ``GenerateConfig.request_noise``); drawn from a generator of its own, so 0 changes nothing.
    """
    from .build import BULK_LOOK_ALIKES, NEAR_MISSES, build
    from .on_fleet import UserFleet, build_on_fleet

    user_fleet = None if fleet is None else UserFleet.of(fleet)
    weights = WEIGHTS
    if categories is not None:
        total = sum(WEIGHTS[c] for c in categories)
        weights = {c: WEIGHTS[c] / total for c in categories}
    counts = category_counts(n, weights)
    order = [c for c, k in counts.items() for _ in range(k)]
    rng = random.Random(seed)
    rng.shuffle(order)
    noise_rng = random.Random(f"noise-{seed}")
    seq: Counter[str] = Counter()
    for category in order:
        seq[category] += 1
        sid = f"shutdown/{category}/{seed}-{seq[category]:05d}"
        if user_fleet is None:
            scenario = build(
                category,
                rng,
                pool,
                sid,
                NEAR_MISSES if near_misses is None else near_misses,
                BULK_LOOK_ALIKES if bulk_look_alikes is None else bulk_look_alikes,
            )
        else:
            scenario = build_on_fleet(category, rng, pool, sid, user_fleet)
        if request_noise > 0 and noise_rng.random() < request_noise:
            scenario = replace(scenario, request=noisy_request(noise_rng, scenario.request))
        yield scenario
