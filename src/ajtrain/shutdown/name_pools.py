"""Random fleets from name pools. ``train`` and ``bench`` pools share no name part, so no
benchmark machine name can appear in generated training data."""

from __future__ import annotations

import random

from ..fleet import Machine

ROLES = ["domain controller", "mail server", "web server", "database", "cache", "file server",
         "build server", "auth server", "proxy", "monitoring", "message queue", "backup server"]  # fmt: skip
ENVS = ["prod", "staging", "dev", "qa"]
OWNERS = ["ops", "platform", "data", "web", "security", "finance"]

POOLS = {
    "train": {
        "words": ["domain", "mail", "web", "db", "cache", "files", "build", "auth", "proxy",
                  "metrics", "queue", "backup", "ldap", "git", "logs", "print", "vpn", "search"],
        "groups": ["prod-api", "prod-web", "stage-db", "dev-app", "qa-worker", "prod-cache",
                   "edge-lb", "data-etl"],
        "persons": ["ians", "bobs", "alices", "carls", "danas", "eves", "gregs", "hanks"],
    },
    "bench": {
        "words": ["dc", "smtp", "www", "pg", "redis", "nas", "ci", "sso", "gw", "wiki", "dns",
                  "ftp", "kv", "mq", "vault", "grafana", "repo", "jump"],
        "groups": ["prd-svc", "stg-web", "batch-job", "k8s-node", "ml-gpu", "etl-run",
                   "cdn-pop", "ingest"],
        "persons": ["irenes", "jons", "kates", "leos", "mias", "nates", "olgas", "pauls"],
    },
}  # fmt: skip


_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Every part of a benchmark name: a made-up training word must never be one of them.
_BENCH_PARTS = frozenset(
    part for key in ("words", "groups", "persons") for item in POOLS["bench"][key]
    for part in [item, *item.split("-")]
)  # fmt: skip


def made_up_word(rng: random.Random) -> str:
    """A nonsense word: training names too varied to memorise, so a model can only get them
    right by copying them from the conversation.

    Half are pronounceable ('kavo', 'tirelu'), half are letter runs drawn from the whole
    alphabet, as abbreviations are ('xqd', 'bwnt'). With syllables alone, a small model learned
    the syllables' pattern instead of copying: asked for 'dns-24', it called 'duze-24'.
    """
    while True:
        if rng.random() < 0.5:
            word = "".join(
                rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 3))
            )
            if rng.random() < 0.4:
                word += rng.choice(_CONSONANTS)
        else:
            word = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(2, 6)))
        if word not in _BENCH_PARTS:
            return word


def pool_item(rng: random.Random, pool: str, key: str) -> str:
    """A word, group or person from a pool; the train pool mostly makes one up."""
    if pool == "train" and rng.random() < 0.7:
        if key == "groups":
            return f"{made_up_word(rng)}-{made_up_word(rng)}"
        return made_up_word(rng) + ("s" if key == "persons" else "")
    return rng.choice(POOLS[pool][key])


def machine_name(rng: random.Random, pool: str) -> str:
    word = pool_item(rng, pool, "words")
    n = rng.randint(1, 40)
    scheme = rng.randrange(4)
    if scheme == 0:
        return f"{word}{n:02d}"  # domain02
    if scheme == 1:
        return f"{word}-{n:02d}"  # mail-07
    if scheme == 2:
        return f"{rng.choice(ENVS)}-{word}-{n:02d}"  # prod-db-03
    return f"{word}{n}"  # web7


def near_misses(name: str) -> list[str]:
    """Names a user could mean by mistake: domain02 → domain020, domain-02, Domain02, domain2."""
    head = name.rstrip("0123456789")
    digits = name[len(head) :]
    out = [name + "0", name[:1].upper() + name[1:]]
    if digits and head and not head.endswith("-"):
        out.append(f"{head}-{digits}")
    if digits.startswith("0") and len(digits) > 1:
        out.append(head + digits.lstrip("0"))
    return [n for n in out if n != name]


def workstation(rng: random.Random, pool: str) -> Machine:
    person = pool_item(rng, pool, "persons")
    return Machine(f"{person}-r{rng.randint(10, 40)}", "running", "dev", "workstation",
                   person.rstrip("s"), ("desktop",), True)  # fmt: skip


def random_machine(rng: random.Random, pool: str, name: str | None = None, **fields) -> Machine:
    base = {
        "status": "running" if rng.random() < 0.9 else "stopped",
        "env": rng.choice(ENVS),
        "role": rng.choice(ROLES),
        "owner": rng.choice(OWNERS),
    }
    base.update(fields)
    return Machine(name or machine_name(rng, pool), **base)


def fill_fleet(
    rng: random.Random, pool: str, core: list[Machine], size: int, workstation_p: float = 0.85
) -> tuple[Machine, ...]:
    """``core`` machines plus random others (and usually the user's workstation), shuffled."""
    machines = list(core)
    if rng.random() < workstation_p and not any(m.protected for m in machines):
        machines.append(workstation(rng, pool))
    names = {m.name for m in machines}
    while len(machines) < size:
        m = random_machine(rng, pool)
        if m.name not in names and not any(m.name in near_misses(n) for n in names):
            machines.append(m)
            names.add(m.name)
    rng.shuffle(machines)
    return tuple(machines)
