"""Writing the few kinds of sentence the task needs: the system prompt, a list of names, a
machine's description. Reading them (the names a message mentions, a yes) is
:mod:`ajtrain.transcript`'s.
"""

from __future__ import annotations

SYSTEM_PROMPT = (
    "You are AJ, an operations agent for the user's machines. Before a shutdown: list the "
    "machines, use exact names only, ask when the request matches none or several, get the "
    "user's yes to the exact machines, then act on exactly those. If the target is unclear, do "
    "nothing and say why. Undo a wrong shutdown first. Answer read-only questions directly."
)


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def describe(machine: dict) -> str:
    """'prod, domain controller, running' — the facts a user needs to recognise a machine."""
    parts = [machine.get("env", ""), machine.get("role", ""), machine.get("status", "")]
    if machine.get("protected"):
        parts.append("protected")
    return ", ".join(p for p in parts if p)
