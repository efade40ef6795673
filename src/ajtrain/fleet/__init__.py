"""The fleet: machines, the four tools (schemas and kinds declared by their code), audit log,
MCP server."""

from .env import (
    DESTRUCTIVE_TOOLS,
    GET_AGENT,
    LIST_AGENTS,
    READ_TOOLS,
    REPAIR_TOOLS,
    SHUTDOWN_AGENT,
    START_AGENT,
    TOOL_KINDS,
    TOOL_NAMES,
    AuditEntry,
    FleetEnv,
    FleetTools,
    is_destructive,
    kind_of,
    tool_schemas,
    tools_of,
)
from .machines import FleetError, Machine, example_fleet_path, load_fleet, machine_from_dict
from .schema import ToolKind

__all__ = [
    "DESTRUCTIVE_TOOLS",
    "GET_AGENT",
    "LIST_AGENTS",
    "READ_TOOLS",
    "REPAIR_TOOLS",
    "SHUTDOWN_AGENT",
    "START_AGENT",
    "TOOL_KINDS",
    "TOOL_NAMES",
    "AuditEntry",
    "FleetEnv",
    "FleetError",
    "FleetTools",
    "Machine",
    "ToolKind",
    "example_fleet_path",
    "is_destructive",
    "kind_of",
    "load_fleet",
    "machine_from_dict",
    "tool_schemas",
    "tools_of",
]
