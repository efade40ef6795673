"""``ajtrain guard serve -- <upstream MCP server command>``: the guard in front of any MCP server."""

from __future__ import annotations

import argparse
import dataclasses

from ..config import add_arguments, from_args, option
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


def _names(csv: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in csv.split(",") if n.strip())


def serve(cfg: GuardServeConfig, command: list[str]) -> int:
    """Serve the upstream command's tools behind the guard until the client disconnects."""
    from .policy import TargetGuard
    from .proxy import serve_proxy

    guard = TargetGuard(_names(cfg.destructive), _names(cfg.read), cfg.target_arg)
    serve_proxy(command, guard, cfg.confirm)
    return 0


DESCRIPTION = """\
An MCP proxy on stdio: starts the upstream MCP server (the command after --), republishes its
tools unchanged and forwards every call, except that a destructive call runs only when
  - its target was shown by an earlier read-tool result in this connection (grounded),
  - it is exactly one of those names, case-sensitive (exact), and
  - the user approved this exact call: the proxy asks them itself through the MCP client
    (elicitation), since it cannot see the conversation and cannot trust the agent to report
    a yes.
A refused call is not forwarded; the agent gets a tool error saying what to do instead.
Limits: the approval is only as good as the client (it must show the question to a person);
clients without elicitation get every destructive call refused (or use --confirm none, which
keeps the grounded + exact checks only, and still refuses a machine shown as protected: nobody
could approve it); state is per connection, in memory.

example: ajtrain guard serve -- ajtrain fleet serve --fleet fleet.yaml
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "guard",
        help="the runtime guard as an MCP proxy",
        description="The runtime guard: grounded, exact, confirmed destructive calls only.",
    )
    sub = parser.add_subparsers(dest="guard_command", metavar="SUBCOMMAND", required=True)
    s = sub.add_parser(
        "serve",
        help="serve an MCP server's tools behind the guard (stdio)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(s, GuardServeConfig)
    s.add_argument(
        "upstream",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARGS...]",
        help="the upstream MCP stdio server to start",
    )

    def run(ns: argparse.Namespace) -> int:
        command = ns.upstream[1:] if ns.upstream[:1] == ["--"] else ns.upstream
        return serve(from_args(GuardServeConfig, ns), command)

    s.set_defaults(func=run)
