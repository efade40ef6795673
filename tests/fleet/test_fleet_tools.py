"""The fleet's tools are declared once (FleetTools' methods with their kinds) and every derived
name, tuple and schema agrees with that declaration."""

from __future__ import annotations

import inspect

from ajtrain import fleet
from ajtrain.fleet import FleetTools, ToolKind, is_destructive, kind_of, tools_of


def test_every_published_tool_has_a_declared_kind():
    published = [s["function"]["name"] for s in fleet.tool_schemas()]
    assert published == list(fleet.TOOL_NAMES) == list(fleet.TOOL_KINDS)
    assert all(isinstance(kind_of(name), ToolKind) for name in published)
    public = [n for n, _ in inspect.getmembers(FleetTools, inspect.isfunction) if n[0] != "_"]
    assert sorted(public) == sorted(fleet.TOOL_NAMES)  # no method is a tool without a kind


def test_names_and_kind_tuples_come_from_the_declaration():
    names = fleet.LIST_AGENTS, fleet.GET_AGENT, fleet.SHUTDOWN_AGENT, fleet.START_AGENT
    assert names == fleet.TOOL_NAMES
    assert fleet.READ_TOOLS == (fleet.LIST_AGENTS, fleet.GET_AGENT) == tools_of(ToolKind.READ)
    assert fleet.DESTRUCTIVE_TOOLS == (fleet.SHUTDOWN_AGENT,) == tools_of(ToolKind.DESTRUCTIVE)
    assert fleet.REPAIR_TOOLS == (fleet.START_AGENT,) == tools_of(ToolKind.REPAIR)
    assert [n for n in fleet.TOOL_NAMES if is_destructive(n)] == [fleet.SHUTDOWN_AGENT]
    assert kind_of("reboot") is None and not is_destructive("reboot")
