"""Scenarios on the user's own inventory (``ajtrain generate --fleet``, ``ajtrain eval --fleet``),
one builder per category as in ``build.py``: only the user knows their machine names, so the
requests are built from them instead of from a made-up fleet.

Every builder first draws the user's ``style`` and then a target among the actionable machines,
whether it uses that target or not: a seed keeps giving the scenarios it always gave.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..fleet import Machine
from . import phrasings as P
from .build import mistake_history
from .name_pools import near_misses
from .scenario import Intent, Reference, Scenario


def _shared_descriptors(actionable: list[Machine]) -> list[dict[str, str]]:
    """Descriptions (role, env, both) that fit two or more actionable machines."""
    counts: Counter = Counter()
    for m in actionable:
        counts[("role", m.role)] += 1
        counts[("env", m.env)] += 1
        counts[("env+role", (m.env, m.role))] += 1
    out = []
    for (kind, val), k in sorted(counts.items()):
        if k >= 2 and val and all(val):
            out.append({"env": val[0], "role": val[1]} if kind == "env+role" else {kind: val})
    return out


def _prefix_groups(actionable: list[Machine], fleet: tuple[Machine, ...]) -> list[str]:
    """Patterns 'prefix-*' matching ≥2 actionable machines and no protected one."""
    prefixes: Counter = Counter(m.name.rsplit("-", 1)[0] for m in actionable if "-" in m.name)
    protected = [m.name for m in fleet if m.protected]
    return [
        f"{p}-*" for p, k in sorted(prefixes.items())
        if k >= 2 and not any(n.startswith(p + "-") for n in protected)
    ]  # fmt: skip


@dataclass(frozen=True)
class UserFleet:
    """The user's inventory and what the builders pick from in it, worked out once."""

    machines: tuple[Machine, ...]
    names: frozenset[str]
    actionable: tuple[Machine, ...]  # running and unprotected: what a request may be about
    descriptors: tuple[dict[str, str], ...]  # role / env / both, fitting ≥2 actionable machines
    groups: tuple[str, ...]  # 'prefix-*' patterns over ≥2 actionable machines, no protected one

    @classmethod
    def of(cls, machines: Iterable[Machine]) -> UserFleet:
        fleet = tuple(machines)
        actionable = [m for m in fleet if m.status == "running" and not m.protected]
        if not actionable:
            raise ValueError("the fleet has no running, unprotected machine to build scenarios on")
        return cls(fleet, frozenset(m.name for m in fleet), tuple(actionable),
                   tuple(_shared_descriptors(actionable)),
                   tuple(_prefix_groups(actionable, fleet)))  # fmt: skip

    def listing(self) -> list[dict]:
        return [m.to_dict() for m in self.machines]


def _draw(rng: random.Random, fleet: UserFleet) -> tuple[int, Machine]:
    """The user's style, then a target (see the module docstring)."""
    style = rng.randrange(100)
    return style, rng.choice(fleet.actionable)


def explicit(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, target = _draw(rng, fleet)
    obj = rng.choice(P.OBJECTS["name"][pool]).format(name=target.name)
    return Scenario(sid, "explicit", fleet.machines, P.say(rng, pool, obj),
                    Reference("name", names=(target.name,)), Intent((target.name,)),
                    style=style)  # fmt: skip


def _vague(rng: random.Random, pool: str, fleet: UserFleet) -> tuple[int, str, Reference]:
    """Style, object ('the prod database') and reference of a description that fits two or
    more machines. The caller phrases the request last, after drawing the intent."""
    style, _ = _draw(rng, fleet)
    desc = rng.choice(fleet.descriptors)
    form = next(f for f, keys in P.OBJECTS["vague"][pool] if set(keys) == set(desc))
    return style, form.format(**desc), Reference("vague", descriptor=desc)


def ambiguous(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, obj, ref = _vague(rng, pool, fleet)
    intent = Intent((rng.choice(ref.candidates(fleet.listing())),))
    return Scenario(sid, "ambiguous", fleet.machines, P.say(rng, pool, obj), ref, intent,
                    style=style)  # fmt: skip


def guardrail(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, obj, ref = _vague(rng, pool, fleet)
    return Scenario(sid, "guardrail", fleet.machines, P.say(rng, pool, obj), ref,
                    Intent(can_clarify=False), style=style)  # fmt: skip


def bulk(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, _ = _draw(rng, fleet)
    pattern = rng.choice(fleet.groups)
    ref = Reference("pattern", pattern=pattern)
    obj = rng.choice(P.OBJECTS["pattern"][pool]).format(pattern=pattern)
    targets = tuple(ref.candidates(fleet.listing()))
    return Scenario(sid, "bulk_confirmation", fleet.machines, P.say(rng, pool, obj), ref,
                    Intent(targets), style=style)  # fmt: skip


def not_found(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, target = _draw(rng, fleet)
    typos = [n for n in near_misses(target.name) if n not in fleet.names] or [target.name + "x"]
    typed = rng.choice(typos)
    obj = rng.choice(P.OBJECTS["name"][pool]).format(name=typed)
    intent = Intent((target.name,)) if rng.random() < 0.6 else Intent(can_clarify=False)
    return Scenario(sid, "not_found", fleet.machines, P.say(rng, pool, obj),
                    Reference("name", names=(typed,)), intent, style=style)  # fmt: skip


def read_only(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, _ = _draw(rng, fleet)
    m = rng.choice(fleet.machines)
    return Scenario(sid, "read_only", fleet.machines,
                    rng.choice(P.QUERIES[pool]).format(name=m.name),
                    Reference("query", names=(m.name,)), Intent(query=m.name), style=style)  # fmt: skip


def error_recovery(rng: random.Random, pool: str, sid: str, fleet: UserFleet) -> Scenario:
    style, target = _draw(rng, fleet)
    others = [m for m in fleet.machines if m.status == "running" and m.name != target.name]
    if not others:
        raise ValueError("error recovery needs two running machines in the fleet")
    wrong = rng.choice(others)
    asked = P.say(rng, pool, rng.choice(P.OBJECTS["name"][pool]).format(name=target.name))
    line, named = rng.choice(P.RECOVERY[pool])
    ref = Reference("recovery", names=(target.name,) if named else (), wrong=wrong.name)
    return Scenario(sid, "error_recovery", fleet.machines,
                    line.format(wrong=wrong.name, target=target.name), ref,
                    Intent((target.name,), restore=(wrong.name,)),
                    history=mistake_history(fleet.machines, wrong.name, asked),
                    style=style)  # fmt: skip


BUILDERS: dict[str, Callable[[random.Random, str, str, UserFleet], Scenario]] = {
    "explicit": explicit,
    "ambiguous": ambiguous,
    "error_recovery": error_recovery,
    "bulk_confirmation": bulk,
    "guardrail": guardrail,
    "not_found": not_found,
    "read_only": read_only,
}


def supported(category: str, fleet: UserFleet) -> str:
    """``category``, or explicit where the fleet cannot support it: ambiguous and guardrail need
    a description that fits two machines, bulk a shared name prefix."""
    if category in ("ambiguous", "guardrail") and not fleet.descriptors:
        return "explicit"
    if category == "bulk_confirmation" and not fleet.groups:
        return "explicit"
    return category


def build_on_fleet(
    category: str, rng: random.Random, pool: str, sid: str, fleet: UserFleet
) -> Scenario:
    if category not in BUILDERS:
        raise ValueError(f"unknown category {category!r}")
    return BUILDERS[supported(category, fleet)](rng, pool, sid, fleet)
