"""The fleet over MCP (stdio, the official ``mcp`` SDK): ``ajtrain fleet serve``.

The published tools are exactly :func:`~ajtrain.fleet.env.tool_schemas` (derived from the code
that runs them), so an MCP client sees the schemas the training data carries. Each call runs
through :meth:`FleetEnv.step`; failures come back as tool errors (``isError``), never crashes.
The fleet lives in the server's memory: a restart starts from the fleet file again. With
``audit``, every call is appended to a JSONL file as it happens.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import orjson
from mcp.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from .env import FleetEnv, is_destructive, kind_of, tool_schemas
from .machines import Machine
from .schema import ToolKind

SERVER_NAME = "ajtrain-fleet"


def mcp_tools() -> list[types.Tool]:
    """The fleet's tools in MCP form, from the same schemas the records carry.

    Annotations tell clients which tools only read and which one is destructive, from the tools'
    declared kinds (hints: the guard does not rely on them).
    """
    return [
        types.Tool(
            name=s["function"]["name"],
            description=s["function"]["description"],
            input_schema=s["function"]["parameters"],
            annotations=types.ToolAnnotations(
                read_only_hint=kind_of(s["function"]["name"]) is ToolKind.READ,
                destructive_hint=is_destructive(s["function"]["name"]),
                idempotent_hint=True,  # a second shutdown/start of a machine changes nothing
                open_world_hint=False,
            ),
        )
        for s in tool_schemas()
    ]


def text_result(text: str, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], is_error=is_error
    )


class AuditFile:
    """Appends each audit entry as one JSON line, flushed at once, so a user can watch it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, entry: Any) -> None:
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        row.update(dataclasses.asdict(entry))
        with open(self.path, "ab") as fh:  # an append-only log: one write per call
            fh.write(orjson.dumps(row) + b"\n")


def build_server(env: FleetEnv, audit: str | Path | None = None) -> Server:
    """A low-level MCP server that lists the fleet's tools and runs calls on ``env``."""
    log = AuditFile(audit) if audit else None
    tools = mcp_tools()

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        ok, text = env.step(params.name, dict(params.arguments or {}))
        if log is not None:
            log.append(env.audit[-1])
        return text_result(text, is_error=not ok)

    return Server(
        SERVER_NAME,
        instructions="A fleet of machines. Names are exact and case-sensitive.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def bad_line_reply(error: Exception) -> SessionMessage:
    """The JSON-RPC error for a line that is not a JSON-RPC message (the id cannot be known):
    -32700 when it is not JSON at all, -32600 when it is JSON but no valid message."""
    invalid_json = isinstance(error, ValidationError) and any(
        e.get("type") == "json_invalid" for e in error.errors()
    )
    code, what = (
        (types.PARSE_ERROR, "Parse error: the line is not valid JSON")
        if invalid_json
        else (types.INVALID_REQUEST, "Invalid Request: the line is not a JSON-RPC 2.0 message")
    )
    return SessionMessage(
        types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=what))
    )


class _AnswerBadLines:
    """The SDK's stdio read stream, except that a line it could not parse is answered with a
    JSON-RPC error (the SDK alone drops it silently, and the client waits forever)."""

    def __init__(self, inner, write_stream):
        self._inner, self._write = inner, write_stream

    @property
    def last_context(self):
        return getattr(self._inner, "last_context", None)

    async def receive(self):
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._write.send(bad_line_reply(item))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


async def serve_stdio(server: Server) -> None:
    """Serve ``server`` on this process's stdin/stdout until the client closes it."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(
            _AnswerBadLines(read_stream, write_stream),
            write_stream,
            server.create_initialization_options(),
        )


def serve(machines: list[Machine], audit: str | Path | None = None) -> None:
    """Serve a fleet over MCP stdio (blocks). Stdout is the protocol: log only to stderr."""
    anyio.run(serve_stdio, build_server(FleetEnv(machines), audit))
