"""``ajtrain guard serve -- <upstream MCP server command>``: the guard in front of any MCP server."""

from __future__ import annotations

import argparse
import dataclasses

from ..config import option
from ..fleet import DESTRUCTIVE_TOOLS, READ_TOOLS


@dataclasses.dataclass
class GuardServeConfig:
    # The defaults are the fleet's own kinds; another upstream server names its own tools.
    destructive: str = option(
        ",".join(DESTRUCTIVE_TOOLS),
        help="comma-separated tools that need a grounded, exact, approved target",
    )
    read: str = option(
        ",".join(READ_TOOLS),
        help="comma-separated tools whose JSON results show machines (objects with a 'name'): "
        "only names they showed may be targeted",
    )
    target_arg: str = option("name", help="the argument of a destructive tool naming its target")
    confirm: str = option(
        "elicit",
        help="elicit: ask the user to approve each destructive call through the MCP client "
        "(elicitation); none: check grounded + exact only (a protected machine is still refused)",
        choices=["elicit", "none"],
    )
    upstream: list[str] = option(
        [], help="the upstream MCP stdio server to start", positional=True,
        nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
    )  # fmt: skip


def _names(csv: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in csv.split(",") if n.strip())


def serve(cfg: GuardServeConfig) -> int:
    """Serve the upstream command's tools behind the guard until the client disconnects."""
    from .policy import TargetGuard
    from .proxy import serve_proxy

    command = cfg.upstream[1:] if cfg.upstream[:1] == ["--"] else cfg.upstream
    guard = TargetGuard(_names(cfg.destructive), _names(cfg.read), cfg.target_arg)
    serve_proxy(command, guard, cfg.confirm)
    return 0
