"""The runtime guard (docs/TRAINING_ARCHITECTURE.md, "Guard"): a destructive call runs only on a
grounded, exact, confirmed target; otherwise the agent gets a tool error saying what to do instead.

- :class:`TargetGuard`: the stateless check, ``guard(messages, tool, arguments) -> None | str``;
  pass it to an :class:`~ajtrain.shutdown.episode.Episode` as ``guard=``.
- :class:`GuardSession` / :func:`guarded`: the same check around any tool executor.
- ``ajtrain guard serve -- <MCP server command>``: the guard in front of any MCP server
  (:mod:`ajtrain.guard.proxy`).
"""

from .policy import PREFIX, TargetGuard, confirmed_names
from .session import GuardSession, guarded

__all__ = [
    "PREFIX",
    "GuardSession",
    "TargetGuard",
    "confirmed_names",
    "guarded",
]
