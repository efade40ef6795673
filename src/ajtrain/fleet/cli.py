"""``ajtrain fleet serve``: the fleet's four tools over MCP stdio, for any MCP client."""

from __future__ import annotations

import dataclasses

from ..config import option


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
