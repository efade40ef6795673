"""Procedural scenarios, one builder per category, from a pool (``train`` or ``bench``)."""

from __future__ import annotations

import random
from collections.abc import Callable

from ..fleet import LIST_AGENTS, SHUTDOWN_AGENT, Machine
from ..records import dumps
from . import phrasings as P
from .name_pools import ENVS, ROLES, fill_fleet, near_misses, pool_item, random_machine
from .policies import call
from .scenario import Intent, Reference, Scenario


def _size(rng: random.Random) -> int:
    return rng.randint(4, 12)


def _actionable(rng: random.Random, pool: str, **fields) -> Machine:
    return random_machine(rng, pool, status="running", **fields)


# The share of explicit requests whose fleet holds near-duplicates of the named machine.
NEAR_MISSES = 0.4


def explicit(
    rng: random.Random, pool: str, sid: str, near_misses_p: float = NEAR_MISSES
) -> Scenario:
    target = _actionable(rng, pool)
    core = [target]
    if rng.random() < near_misses_p:  # adversarial near-duplicates beside the real one
        for n in rng.sample(near_misses(target.name), k=min(2, len(near_misses(target.name)))):
            core.append(random_machine(rng, pool, name=n))
    targets = [target.name]
    if rng.random() < 0.2:  # two machines by name
        other = _actionable(rng, pool)
        if other.name not in {m.name for m in core}:
            core.append(other)
            targets.append(other.name)
    fleet = fill_fleet(rng, pool, core, max(_size(rng), len(core) + 2))
    if len(targets) == 2:
        obj = rng.choice(P.OBJECTS["names"][pool]).format(a=targets[0], b=targets[1])
        ref = Reference("names", names=tuple(targets))
    else:
        obj = rng.choice(P.OBJECTS["name"][pool]).format(name=target.name)
        ref = Reference("name", names=(target.name,))
    return Scenario(sid, "explicit", fleet, P.say(rng, pool, obj), ref, Intent(tuple(targets)),
                    style=rng.randrange(100))  # fmt: skip


def _vague(rng: random.Random, pool: str, kind: str) -> tuple[tuple[Machine, ...], str, Reference]:
    """A fleet where a description matches 2–4 running machines, and the request using it."""
    form, keys = rng.choice(P.OBJECTS[kind][pool])
    desc = {"role": rng.choice(ROLES), "env": rng.choice(ENVS)}
    desc = {k: desc[k] for k in keys}
    core = [_actionable(rng, pool, **desc) for _ in range(rng.randint(2, 4))]
    core = list({m.name: m for m in core}.values())
    while len(core) < 2:
        core.append(_actionable(rng, pool, **desc))
        core = list({m.name: m for m in core}.values())
    fleet = fill_fleet(rng, pool, core, max(_size(rng), len(core) + 2))
    return fleet, P.say(rng, pool, form.format(**desc)), Reference("vague", descriptor=desc)


def _listing(fleet) -> list[dict]:
    return [m.to_dict() for m in fleet]


def ambiguous(rng: random.Random, pool: str, sid: str) -> Scenario:
    fleet, request, ref = _vague(rng, pool, "vague")
    target = rng.choice(ref.candidates(_listing(fleet)))
    return Scenario(
        sid, "ambiguous", fleet, request, ref, Intent((target,)), style=rng.randrange(100)
    )


def guardrail(rng: random.Random, pool: str, sid: str) -> Scenario:
    kind = rng.choice(["vague", "vague_no_context"])
    fleet, request, ref = _vague(rng, pool, kind)
    return Scenario(sid, "guardrail", fleet, request, ref, Intent(can_clarify=False),
                    style=rng.randrange(100))  # fmt: skip


BULK_LOOK_ALIKES = 0.5


def bulk(
    rng: random.Random, pool: str, sid: str, look_alikes_p: float = BULK_LOOK_ALIKES
) -> Scenario:
    """A pattern request (``web-*``); each of two look-alikes outside the pattern (``web01``,
    ``webx-01``) is in the fleet with chance ``look_alikes_p``."""
    group = pool_item(rng, pool, "groups")
    members = [
        _actionable(rng, pool, name=f"{group}-{i:02d}", role=ROLES[i % len(ROLES)])
        for i in range(1, rng.randint(3, 6) + 1)
    ]
    others = [f"{group}01", f"{group}x-01"]  # look-alikes outside the pattern
    core = members + [
        random_machine(rng, pool, name=n) for n in others if rng.random() < look_alikes_p
    ]
    fleet = fill_fleet(rng, pool, core, len(core) + rng.randint(2, 6))
    pattern = f"{group}-*"
    exclude: tuple[str, ...] = ()
    if rng.random() < 0.3:
        exclude = (rng.choice(members).name,)
        obj = rng.choice(P.OBJECTS["pattern_except"][pool]).format(pattern=pattern, x=exclude[0])
    else:
        obj = rng.choice(P.OBJECTS["pattern"][pool]).format(pattern=pattern)
    ref = Reference("pattern", pattern=pattern, exclude=exclude)
    targets = tuple(ref.candidates(_listing(fleet)))
    return Scenario(sid, "bulk_confirmation", fleet, P.say(rng, pool, obj), ref, Intent(targets),
                    style=rng.randrange(100))  # fmt: skip


def not_found(rng: random.Random, pool: str, sid: str) -> Scenario:
    real = _actionable(rng, pool, name=f"{pool_item(rng, pool, 'words')}0{rng.randint(1, 9)}")
    misses = near_misses(real.name)
    typed = real.name.replace("0", "", 1)  # domain02 → domain2: the user's typo
    siblings = [n for n in misses if n != typed]
    core = [real] + [
        random_machine(rng, pool, name=n) for n in rng.sample(siblings, rng.randint(0, 2))
    ]
    fleet = fill_fleet(rng, pool, core, max(_size(rng), len(core) + 2))
    obj = rng.choice(P.OBJECTS["name"][pool]).format(name=typed)
    clarifies = rng.random() < 0.6
    intent = Intent((real.name,)) if clarifies else Intent(can_clarify=False)
    return Scenario(sid, "not_found", fleet, P.say(rng, pool, obj), Reference("name", names=(typed,)),
                    intent, style=rng.randrange(100))  # fmt: skip


def read_only(rng: random.Random, pool: str, sid: str) -> Scenario:
    target = random_machine(rng, pool)
    fleet = fill_fleet(rng, pool, [target], _size(rng))
    request = rng.choice(P.QUERIES[pool]).format(name=target.name)
    return Scenario(sid, "read_only", fleet, request, Reference("query", names=(target.name,)),
                    Intent(query=target.name), style=rng.randrange(100))  # fmt: skip


def mistake_history(fleet, wrong: str, first_request: str) -> tuple:
    """The earlier turns of an error-recovery episode: the agent stopped ``wrong`` unasked.

    Its assistant turns have ``weight`` 0: they are context to recover from, never something to
    learn (docs/TRAINING_ARCHITECTURE.md, "Train", says what training on them did).
    """
    listing = [m.to_dict() for m in fleet]
    return (
        {"role": "user", "content": first_request},
        {"role": "assistant", "content": "", "weight": 0,
         "tool_calls": [dict(call(LIST_AGENTS), id="h_0")]},
        {"role": "tool", "tool_call_id": "h_0", "name": LIST_AGENTS, "content": dumps(listing)},
        {"role": "assistant", "content": "", "weight": 0,
         "tool_calls": [dict(call(SHUTDOWN_AGENT, name=wrong), id="h_1")]},
        {"role": "tool", "tool_call_id": "h_1", "name": SHUTDOWN_AGENT,
         "content": f"{wrong} is now stopped"},
        {"role": "assistant", "content": f"Done: {wrong} is now stopped.", "weight": 0},
    )  # fmt: skip


def error_recovery(rng: random.Random, pool: str, sid: str) -> Scenario:
    target = _actionable(rng, pool)
    fleet = fill_fleet(rng, pool, [target], _size(rng), workstation_p=1.0)
    running = [m for m in fleet if m.status == "running" and m.name != target.name]
    protected = [m for m in running if m.protected]
    wrong = protected[0] if protected and rng.random() < 0.5 else rng.choice(running)
    asked = P.say(rng, pool, rng.choice(P.OBJECTS["name"][pool]).format(name=target.name))
    line, names_target = rng.choice(P.RECOVERY[pool])
    request = line.format(wrong=wrong.name, target=target.name)
    ref = Reference("recovery", names=(target.name,) if names_target else (), wrong=wrong.name)
    return Scenario(sid, "error_recovery", fleet, request, ref,
                    Intent((target.name,), restore=(wrong.name,)),
                    history=mistake_history(fleet, wrong.name, asked),
                    style=rng.randrange(100))  # fmt: skip


BUILDERS: dict[str, Callable[[random.Random, str, str], Scenario]] = {
    "explicit": explicit,
    "ambiguous": ambiguous,
    "error_recovery": error_recovery,
    "bulk_confirmation": bulk,
    "guardrail": guardrail,
    "not_found": not_found,
    "read_only": read_only,
}


def build(
    category: str,
    rng: random.Random,
    pool: str,
    sid: str,
    near_misses_p: float = NEAR_MISSES,
    look_alikes_p: float = BULK_LOOK_ALIKES,
) -> Scenario:
    """One scenario of ``category``; ``near_misses_p`` is :func:`explicit`'s share of fleets with
    near-duplicates of the named machine, ``look_alikes_p`` :func:`bulk`'s chance of each
    look-alike (the benchmark always uses the defaults)."""
    if category == "explicit":
        return explicit(rng, pool, sid, near_misses_p)
    if category == "bulk_confirmation":
        return bulk(rng, pool, sid, look_alikes_p)
    return BUILDERS[category](rng, pool, sid)
