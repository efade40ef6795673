"""``ajtrain fleet serve`` over real MCP stdio: a subprocess server and the SDK's client."""

from __future__ import annotations

import sys

import anyio
import orjson
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from ajtrain.cli import main
from ajtrain.fleet import tool_schemas
from ajtrain.fleet.server import mcp_tools

FLEET_YAML = """machines:
  - {name: ians-r16, env: dev, role: workstation, protected: true}
  - {name: domain02, env: prod, role: domain controller}
  - {name: domain020, env: staging, role: domain controller}
"""


def text(result) -> str:
    return "".join(c.text for c in result.content)


def test_published_tools_are_the_derived_schemas():
    assert [(t.name, t.description, t.input_schema) for t in mcp_tools()] == [
        (s["function"]["name"], s["function"]["description"], s["function"]["parameters"])
        for s in tool_schemas()
    ]
    hints = {
        t.name: (t.annotations.read_only_hint, t.annotations.destructive_hint) for t in mcp_tools()
    }
    assert hints == {"list_agents": (True, False), "get_agent": (True, False),
                     "shutdown_agent": (False, True), "start_agent": (False, False)}  # fmt: skip


def test_bad_fleet_file_is_a_clean_cli_error(tmp_path, capsys):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("machines:\n  - {name: a}\n  - {name: a}\n")
    assert main(["fleet", "serve", "--fleet", str(bad)]) == 2
    assert "duplicate machine name 'a'" in capsys.readouterr().err


@pytest.mark.slow
def test_fleet_serve_over_stdio(tmp_path):
    fleet, audit = tmp_path / "fleet.yaml", tmp_path / "audit.jsonl"
    fleet.write_text(FLEET_YAML)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ajtrain", "fleet", "serve", "--fleet", str(fleet), "--audit", str(audit)],
    )

    async def session() -> None:
        async with Client(server) as client:
            listed = await client.list_tools()
            published = [(t.name, t.input_schema) for t in listed.tools]
            expected = [
                (s["function"]["name"], s["function"]["parameters"]) for s in tool_schemas()
            ]
            assert published == expected
            shutdown = next(t for t in listed.tools if t.name == "shutdown_agent")
            assert shutdown.annotations.destructive_hint is True

            result = await client.call_tool("list_agents", {})
            assert not result.is_error
            assert [m["name"] for m in orjson.loads(text(result))] == [
                "ians-r16", "domain02", "domain020"]  # fmt: skip

            result = await client.call_tool("shutdown_agent", {"name": "Domain02"})
            assert result.is_error and "no machine named 'Domain02'" in text(result)
            result = await client.call_tool("shutdown_agent", {"name": "domain02"})
            assert not result.is_error and text(result) == "domain02 is now stopped"
            result = await client.call_tool("shutdown_agent", {"name": "domain02"})
            assert text(result) == "domain02 is already stopped"

            result = await client.call_tool("list_agents", {"filter": "domain*"})
            states = {m["name"]: m["status"] for m in orjson.loads(text(result))}
            assert states == {"domain02": "stopped", "domain020": "running"}

    anyio.run(session)
    rows = [orjson.loads(line) for line in audit.read_bytes().splitlines()]
    assert [(r["tool"], r["ok"], r["changed"]) for r in rows] == [
        ("list_agents", True, False),
        ("shutdown_agent", False, False),
        ("shutdown_agent", True, True),
        ("shutdown_agent", True, False),
        ("list_agents", True, False),
    ]
    assert rows[2]["arguments"] == {"name": "domain02"} and rows[2]["target"] == "domain02"
    assert all("time" in r for r in rows)


def test_a_line_that_is_not_json_rpc_gets_an_error_reply():
    import subprocess

    lines = b'not json\n{"foo": 1}\n'
    out = subprocess.run([sys.executable, "-m", "ajtrain", "fleet", "serve"], input=lines,
                         capture_output=True, timeout=60, check=True).stdout  # fmt: skip
    replies = [orjson.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["error"]["code"]) for r in replies] == [(None, -32700), (None, -32600)]
