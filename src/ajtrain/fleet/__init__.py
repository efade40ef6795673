"""The fleet: machines, the four tools (schemas derived from their code), audit log, MCP server."""

from .env import (
    DESTRUCTIVE_TOOLS,
    READ_TOOLS,
    REPAIR_TOOLS,
    TOOL_NAMES,
    AuditEntry,
    FleetEnv,
    FleetTools,
    tool_schemas,
)
from .machines import FleetError, Machine, example_fleet_path, load_fleet, machine_from_dict

__all__ = [
    "DESTRUCTIVE_TOOLS",
    "READ_TOOLS",
    "REPAIR_TOOLS",
    "TOOL_NAMES",
    "AuditEntry",
    "FleetEnv",
    "FleetError",
    "FleetTools",
    "Machine",
    "example_fleet_path",
    "load_fleet",
    "machine_from_dict",
    "tool_schemas",
]
