"""A scenario: a fleet, what the user says, and what they really want (hidden from the agent).

The ``reference`` is what the opening request designates, in structured form (a name, several
names, a description, a pattern, a question). The expert policy may read it — it is the parse of
the request, not the intent. The ``intent`` is hidden: only the simulated user and the scorer see it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..fleet import Machine, machine_from_dict
from ..records import Message

CATEGORIES = (
    "explicit",
    "ambiguous",
    "error_recovery",
    "bulk_confirmation",
    "guardrail",
    "not_found",
    "read_only",
)
# The guide's 20 crafted examples; read_only is ours (the don't-over-ask rule), not in the 20.
CANONICAL_COUNTS = {
    "explicit": 3,
    "ambiguous": 8,
    "error_recovery": 3,
    "bulk_confirmation": 3,
    "guardrail": 1,
    "not_found": 2,
}
REFERENCE_KINDS = ("name", "names", "vague", "pattern", "query", "recovery")


@dataclass(frozen=True)
class Reference:
    """What the request designates. ``kind`` picks which fields matter.

    - name / names / query: ``names`` as the user typed them (may not exist: near-misses);
    - vague: ``descriptor`` ({"role": ..., "env": ...}; empty = any running machine);
    - pattern: ``pattern`` (shell glob) minus ``exclude``;
    - recovery: ``wrong`` (stopped by mistake) and ``names`` (the intended one, if said).
    """

    kind: str
    names: tuple[str, ...] = ()
    descriptor: dict[str, str] = field(default_factory=dict)
    pattern: str = ""
    exclude: tuple[str, ...] = ()
    wrong: str = ""

    def candidates(self, machines: list[dict[str, Any]]) -> list[str]:
        """Names in a ``list_agents`` result that this reference could mean."""
        names = [m["name"] for m in machines]
        if self.kind in ("name", "names", "query", "recovery"):
            return [n for n in self.names if n in names]
        if self.kind == "pattern":
            return [
                n for n in names if fnmatch.fnmatchcase(n, self.pattern) and n not in self.exclude
            ]
        return [
            m["name"]
            for m in machines
            if m.get("status") == "running"
            and not m.get("protected")
            and all(m.get(k) == v for k, v in self.descriptor.items())
        ]


@dataclass(frozen=True)
class Intent:
    """What the user really wants. Final state: ``targets`` stopped, ``restore`` running."""

    targets: tuple[str, ...] = ()
    restore: tuple[str, ...] = ()
    can_clarify: bool = True
    query: str = ""  # read-only: the machine asked about

    @cached_property
    def target_set(self) -> frozenset[str]:
        """``targets`` for membership tests (a bulk set can hold thousands of machines)."""
        return frozenset(self.targets)

    @property
    def actionable(self) -> bool:
        """Whether the user wants something done (a machine stopped or started)."""
        return bool(self.targets or self.restore)


def _check_fleet_and_intent(fleet: tuple[Machine, ...], intent: dict, where: str) -> None:
    """A scenario's fleet names each machine once, and its intent names only those machines
    (a target outside the fleet could never be reached: every policy would score 0 on it)."""
    names: set[str] = set()
    for i, m in enumerate(fleet):
        if m.name in names:
            raise ValueError(f"{where}: fleet[{i}]: duplicate machine name {m.name!r}")
        names.add(m.name)
    for key in ("targets", "restore"):
        value = intent.get(key, ())
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: field 'intent.{key}' must be a list of machine names")
        missing = [n for n in value if n not in names]
        if missing:
            raise ValueError(
                f"{where}: field 'intent.{key}' names {missing}, not in the scenario's fleet"
            )


@dataclass(frozen=True)
class Scenario:
    id: str
    category: str
    fleet: tuple[Machine, ...]
    request: str
    reference: Reference
    intent: Intent
    history: tuple[Message, ...] = ()  # earlier turns (error recovery: the mistake)
    style: int = 0  # picks the simulated user's phrasings, so transcripts vary

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fleet"] = [dataclasses.asdict(m) for m in self.fleet]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "scenario") -> Scenario:
        try:
            ref = d["reference"]
            intent = d["intent"]
            cat = d["category"]
            if cat not in CATEGORIES:
                raise ValueError(f"{where}: unknown category {cat!r}; expected one of {CATEGORIES}")
            if ref["kind"] not in REFERENCE_KINDS:
                raise ValueError(
                    f"{where}: reference.kind {ref['kind']!r} not in {REFERENCE_KINDS}"
                )
            fleet = tuple(
                machine_from_dict(m, f"{where}: fleet[{i}]") for i, m in enumerate(d["fleet"])
            )
            if not fleet:
                raise ValueError(f"{where}: field 'fleet' is empty")
            _check_fleet_and_intent(fleet, intent, where)
            return cls(
                id=str(d["id"]),
                category=cat,
                fleet=fleet,
                request=str(d["request"]),
                reference=Reference(
                    kind=ref["kind"],
                    names=tuple(ref.get("names", ())),
                    descriptor=dict(ref.get("descriptor", {})),
                    pattern=ref.get("pattern", ""),
                    exclude=tuple(ref.get("exclude", ())),
                    wrong=ref.get("wrong", ""),
                ),
                intent=Intent(
                    targets=tuple(intent.get("targets", ())),
                    restore=tuple(intent.get("restore", ())),
                    can_clarify=bool(intent.get("can_clarify", True)),
                    query=intent.get("query", ""),
                ),
                history=tuple(d.get("history", ())),
                style=int(d.get("style", 0)),
            )
        except KeyError as e:
            raise ValueError(f"{where}: missing field {e.args[0]!r}") from None
        except (TypeError, AttributeError) as e:
            raise ValueError(f"{where}: malformed scenario ({e})") from None

    @property
    def request_index(self) -> int:
        """Where the opening request stands in a transcript: after the system prompt and the
        history."""
        return 1 + len(self.history)

    def machine(self, name: str) -> Machine | None:
        return next((m for m in self.fleet if m.name == name), None)

    def initial_state(self) -> dict[str, str]:
        return {m.name: m.status for m in self.fleet}

    def intended_state(self, after_history: dict[str, str]) -> dict[str, str]:
        """The fleet state the user wants at the end of the episode."""
        state = dict(after_history)
        for n in self.intent.targets:
            state[n] = "stopped"
        for n in self.intent.restore:
            state[n] = "running"
        return state
