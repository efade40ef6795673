"""The target guard: checks a destructive call against the target-safety policy before it runs,
from the transcript alone (docs/TRAINING_ARCHITECTURE.md, "The target-safety policy" and "Guard").

A destructive call passes only when its target is

- **grounded**: shown by an earlier result of a read tool (the fleet's ``list_agents``/
  ``get_agent``) in the transcript;
- **exact**: exactly (case-sensitively) one of those names, never a near match;
- **confirmed**: the most recent user message says yes and the assistant message just before it
  proposes to shut down a set of machines that includes this one (:func:`confirmed_names`; a
  question asking the user to choose among candidates proposes nothing, so a yes to it confirms
  nothing). Since every call is checked against that one
  message, everything acted on after a yes is within the set the user said yes to.

A **protected** machine (a read result showed ``"protected": true``, e.g. the user's own
workstation) always needs that confirmation, even where the caller checks grounding only
(``require_confirmation=False``, the MCP proxy's ``--confirm none``).

What the guard checks follows from a tool's kind (:class:`~ajtrain.fleet.ToolKind`), never from
its name: by default the kinds the fleet declares; the MCP proxy in front of another server names
its own destructive and read tools.

The guard is stateless: it is a pure function of the transcript and the pending call, so the
same object serves :class:`~ajtrain.shutdown.episode.Episode` (``guard=TargetGuard()``), the
:class:`~ajtrain.guard.session.GuardSession` wrapper and the MCP proxy. It judges names, not
intentions: a yes to a message proposing several machines confirms each of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..fleet import DESTRUCTIVE_TOOLS, READ_TOOLS, ToolKind
from ..records import Message
from ..shutdown.text import join_names
from ..transcript import parse_args, proposed_names, shown_machines, yes_to

PREFIX = "blocked by ajtrain.guard: "
ASK = "Name the exact machine(s) to the user and wait for their yes before acting."


def confirmed_names(messages: list[Message], names: Iterable[str]) -> list[str]:
    """Machines the user's latest message said yes to ([] when it is not a yes).

    The confirmed set is the names the assistant's last message before that yes proposes to shut
    down (:func:`proposed_names`), matched exactly among ``names``: [] when that message asked
    the user to choose.
    """
    u = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), -1)
    return yes_to(messages, u, names, read=proposed_names) if u >= 0 else []


@dataclass(frozen=True)
class TargetGuard:
    """``guard(messages, tool, arguments) -> None | refusal``: None lets the call run.

    Args:
        destructive: the destructive tools: they need a grounded, exact, confirmed target;
            others pass. Default: the fleet's.
        read: the read tools, whose JSON results show machines (what grounds a name). Default:
            the fleet's.
        target_arg: the argument of a destructive tool that names its target.
    """

    destructive: tuple[str, ...] = DESTRUCTIVE_TOOLS
    read: tuple[str, ...] = READ_TOOLS
    target_arg: str = "name"

    def kind_of(self, tool: str) -> ToolKind | None:
        """The kind this guard treats ``tool`` as (None: a tool it lets pass unexamined)."""
        if tool in self.destructive:
            return ToolKind.DESTRUCTIVE
        if tool in self.read:
            return ToolKind.READ
        return None

    def __call__(
        self, messages: list[Message], tool: str, arguments: str | dict[str, Any] | None
    ) -> str | None:
        return self.check(messages, tool, arguments)

    def check(
        self,
        messages: list[Message],
        tool: str,
        arguments: str | dict[str, Any] | None,
        require_confirmation: bool = True,
    ) -> str | None:
        """The refusal text for a call that breaks the policy, else None.

        ``require_confirmation=False`` (the MCP proxy's ``--confirm none``) checks grounding and
        exactness only, except for a protected machine: that one always needs the user's yes.
        """
        refusal, target, shown = self._ground(messages, tool, arguments)
        if refusal is not None or target is None:
            return refusal
        protected = bool(shown[target].get("protected"))
        if not require_confirmation and not protected:
            return None
        call = f"{tool}('{target}')"
        confirmed = confirmed_names(messages, shown)
        if not confirmed:
            what = f"{target} is protected and needs the user's explicit yes: {call}"
            return (
                f"{PREFIX}{what if protected else call} was not confirmed. Nothing was done. {ASK}"
            )
        if target not in confirmed:
            return (
                f"{PREFIX}{call}: the user's yes was to {join_names(confirmed)}, not {target}. "
                f"Nothing was done. Act only on the machines the user said yes to, or name "
                f"{target} to the user and wait for their yes."
            )
        return None

    def grounded(
        self, messages: list[Message], tool: str, arguments: str | dict[str, Any] | None
    ) -> str | None:
        """Grounded and exact only, for a caller that asks the user itself before the call (the
        MCP proxy's elicitation) and then checks the whole policy with the approval."""
        return self._ground(messages, tool, arguments)[0]

    def _ground(
        self, messages: list[Message], tool: str, arguments: str | dict[str, Any] | None
    ) -> tuple[str | None, str | None, dict[str, dict[str, Any]]]:
        """(refusal, target, name -> latest record shown); target None: not a destructive call."""
        if self.kind_of(tool) is not ToolKind.DESTRUCTIVE:
            return None, None, {}
        args = parse_args(arguments)
        target = args.get(self.target_arg) if args is not None else None
        if not isinstance(target, str) or not target:
            return (
                f"{PREFIX}{tool} needs the exact machine name in '{self.target_arg}'. "
                f"Nothing was done. {ASK}",
                None,
                {},
            )
        records = shown_machines(messages, self.read)
        if target not in records:
            return self._not_shown(f"{tool}('{target}')", target, list(records)), target, {}
        return None, target, records

    def _not_shown(self, call: str, target: str, shown: list[str]) -> str:
        near = [n for n in shown if n.lower() == target.lower()]
        if near:  # a case-different spelling: say so, but never act on it
            return (
                f"{PREFIX}{call} is not exactly a machine shown (names are exact and "
                f"case-sensitive; shown: {join_names(near)}). Nothing was done. {ASK}"
            )
        reads = " or ".join(self.read) or "a read tool"
        return (
            f"{PREFIX}{call} names no machine shown by {reads} in this conversation. "
            f"Nothing was done. List the machines first, then {ASK[0].lower() + ASK[1:]}"
        )
