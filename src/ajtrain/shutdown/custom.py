"""Scenarios on the user's own inventory (``ajtrain generate --fleet my_fleet.yaml``): only the
user knows their machine names, so the requests are built from them."""

from __future__ import annotations

import random
from collections import Counter

from ..fleet import Machine
from . import phrasings as P
from .build import mistake_history
from .name_pools import near_misses
from .scenario import Intent, Reference, Scenario

POOL = "train"


def _say(rng: random.Random, obj: str) -> str:
    return P.request(rng.choice(P.FRAMES[POOL]), rng.choice(P.VERBS), obj)


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


def build_on_fleet(category: str, rng: random.Random, fleet, sid: str) -> Scenario:
    fleet = tuple(fleet)
    names = {m.name for m in fleet}
    actionable = [m for m in fleet if m.status == "running" and not m.protected]
    if not actionable:
        raise ValueError("the fleet has no running, unprotected machine to build scenarios on")
    style = rng.randrange(100)
    descs = _shared_descriptors(actionable)
    groups = _prefix_groups(actionable, fleet)
    if category in ("ambiguous", "guardrail") and not descs:
        category = "explicit"  # no description fits two machines: nothing can be ambiguous
    if category == "bulk_confirmation" and not groups:
        category = "explicit"
    target = rng.choice(actionable)
    if category == "explicit":
        obj = rng.choice(P.OBJECTS["name"][POOL]).format(name=target.name)
        return Scenario(sid, category, fleet, _say(rng, obj), Reference("name", names=(target.name,)),
                        Intent((target.name,)), style=style)  # fmt: skip
    if category in ("ambiguous", "guardrail"):
        desc = rng.choice(descs)
        form = next(f for f, keys in P.OBJECTS["vague"][POOL] if set(keys) == set(desc))
        ref = Reference("vague", descriptor=desc)
        cands = ref.candidates([m.to_dict() for m in fleet])
        intent = (
            Intent((rng.choice(cands),)) if category == "ambiguous" else Intent(can_clarify=False)
        )
        return Scenario(
            sid, category, fleet, _say(rng, form.format(**desc)), ref, intent, style=style
        )
    if category == "bulk_confirmation":
        pattern = rng.choice(groups)
        ref = Reference("pattern", pattern=pattern)
        obj = rng.choice(P.OBJECTS["pattern"][POOL]).format(pattern=pattern)
        targets = tuple(ref.candidates([m.to_dict() for m in fleet]))
        return Scenario(sid, category, fleet, _say(rng, obj), ref, Intent(targets), style=style)
    if category == "not_found":
        typos = [n for n in near_misses(target.name) if n not in names] or [target.name + "x"]
        typed = rng.choice(typos)
        obj = rng.choice(P.OBJECTS["name"][POOL]).format(name=typed)
        intent = Intent((target.name,)) if rng.random() < 0.6 else Intent(can_clarify=False)
        return Scenario(sid, category, fleet, _say(rng, obj), Reference("name", names=(typed,)),
                        intent, style=style)  # fmt: skip
    if category == "read_only":
        m = rng.choice(fleet)
        return Scenario(sid, category, fleet, rng.choice(P.QUERIES[POOL]).format(name=m.name),
                        Reference("query", names=(m.name,)), Intent(query=m.name), style=style)  # fmt: skip
    if category == "error_recovery":
        others = [m for m in fleet if m.status == "running" and m.name != target.name]
        if not others:
            raise ValueError("error recovery needs two running machines in the fleet")
        wrong = rng.choice(others)
        asked = _say(rng, rng.choice(P.OBJECTS["name"][POOL]).format(name=target.name))
        line, named = rng.choice(P.RECOVERY[POOL])
        ref = Reference("recovery", names=(target.name,) if named else (), wrong=wrong.name)
        return Scenario(sid, category, fleet, line.format(wrong=wrong.name, target=target.name),
                        ref, Intent((target.name,), restore=(wrong.name,)),
                        history=mistake_history(fleet, wrong.name, asked), style=style)  # fmt: skip
    raise ValueError(f"unknown category {category!r}")
