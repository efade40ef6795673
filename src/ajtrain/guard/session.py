"""The guard around any tool executor, for agents that don't run in an ajtrain Episode.

The guard judges a call from the conversation, so a :class:`GuardSession` keeps one: feed it the
user's and the assistant's text messages; tool calls made through :meth:`GuardSession.call` (or
an executor wrapped by :func:`guarded`) are recorded with their results. Example::

    session = GuardSession()
    run_tool = guarded(my_executor, session)  # my_executor(tool, args: dict) -> str
    session.user("Shutdown domain02")
    run_tool("list_agents", {})  # recorded: it grounds the names it shows
    session.assistant("Shut down domain02 (prod, domain controller)? Please confirm.")
    session.user("yes")
    run_tool("shutdown_agent", {"name": "domain02"})  # runs; any other name is refused
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import Message
from ..transcript import parse_args, tool_call
from .policy import TargetGuard

Executor = Callable[[str, dict[str, Any]], str]


class GuardSession:
    """A conversation transcript plus the guard that checks calls against it.

    Attributes:
        messages: the transcript in record form (user/assistant/tool messages).
        blocked: ``{"tool", "arguments", "reason"}`` for each refused call.
    """

    def __init__(self, guard: TargetGuard | None = None, messages: list[Message] | None = None):
        self.guard = guard or TargetGuard()
        self.messages: list[Message] = list(messages or [])
        self.blocked: list[dict[str, Any]] = []
        self._ids = 0

    def user(self, text: str) -> None:
        """Record what the user said."""
        self.messages.append({"role": "user", "content": text})

    def assistant(self, text: str) -> None:
        """Record what the agent said to the user (its confirmation questions above all)."""
        self.messages.append({"role": "assistant", "content": text})

    def check(
        self, tool: str, arguments: dict[str, Any] | str | None = None, **kw: bool
    ) -> str | None:
        """The guard's refusal for this call now, or None when it may run. Records nothing."""
        return self.guard.check(self.messages, tool, arguments, **kw)

    def record(self, tool: str, arguments: dict[str, Any] | str | None, result: str) -> None:
        """Record a call and its result (as an assistant tool call and a tool message)."""
        call_id = f"call_{self._ids}"
        self._ids += 1
        call = tool_call(tool, arguments, call_id)
        self.messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        self.messages.append(
            {"role": "tool", "tool_call_id": call_id, "name": tool, "content": result}
        )

    def call(
        self, executor: Executor, tool: str, arguments: dict[str, Any] | str | None = None
    ) -> str:
        """Check the call, run it with ``executor`` if allowed, record it; returns the result
        text (the refusal when blocked: the agent should read it as the tool's result)."""
        refusal = self.check(tool, arguments)
        if refusal is not None:
            self.blocked.append({"tool": tool, "arguments": arguments, "reason": refusal})
            result = refusal
        else:
            args = parse_args(arguments)
            result = executor(tool, args if args is not None else {})
        self.record(tool, arguments, result)
        return result


def guarded(executor: Executor, session: GuardSession | None = None) -> Executor:
    """``executor`` behind the guard: same signature, refused calls return the refusal text.

    The returned function carries its session as ``.session``; feed the user's and assistant's
    text messages to it (``fn.session.user(...)``), or the guard will refuse every destructive
    call as unconfirmed.
    """
    session = session or GuardSession()

    def run(tool: str, arguments: dict[str, Any] | str | None = None) -> str:
        return session.call(executor, tool, arguments)

    run.session = session  # type: ignore[attr-defined]
    return run
