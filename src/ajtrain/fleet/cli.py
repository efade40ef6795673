"""``ajtrain fleet serve``: the fleet's four tools over MCP stdio, for any MCP client."""

from __future__ import annotations

import argparse
import dataclasses

from ..config import add_arguments, from_args, option
from .env import TOOL_NAMES


@dataclasses.dataclass
class ServeConfig:
    fleet: str | None = option(
        None,
        help="fleet file (YAML/JSON: a list of machines, or a 'machines:' list) "
        "(default: the example fleet, ajtrain/fleet/example.yaml)",
    )
    audit: str | None = option(
        None,
        help="append every tool call (arguments, result, target, whether it changed the fleet) "
        "to this JSONL file as it happens",
    )


def serve(cfg: ServeConfig) -> int:
    """Load the fleet and serve it until the client disconnects."""
    from .machines import example_fleet_path, load_fleet
    from .server import serve as serve_fleet

    serve_fleet(load_fleet(cfg.fleet or example_fleet_path()), audit=cfg.audit)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="the simulated fleet as an MCP server",
        description=f"The simulated fleet ({', '.join(TOOL_NAMES)}).",
    )
    sub = parser.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True)
    s = sub.add_parser(
        "serve",
        help="serve a fleet over MCP stdio",
        description=(
            "Serve a fleet over MCP on stdin/stdout (the official mcp SDK). The tools' schemas "
            "are derived from the code that runs them, the same ones the training records carry. "
            "Names are exact and case-sensitive. The fleet's state lives in this process: it "
            "starts from the file each time. Example client config: "
            '{"command": "ajtrain", "args": ["fleet", "serve", "--fleet", "fleet.yaml"]}'
        ),
    )
    add_arguments(s, ServeConfig)
    s.set_defaults(func=lambda ns: serve(from_args(ServeConfig, ns)))
