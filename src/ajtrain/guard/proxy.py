"""The guard in front of any MCP server: ``ajtrain guard serve -- <upstream server command>``.

The proxy speaks MCP on stdio to the agent's client and starts the upstream server as its own
stdio client. It republishes the upstream tools unchanged (same names and schemas), forwards
every call, and gates the destructive ones (``--destructive``, default ``shutdown_agent``):

- **grounded + exact**: the target (argument ``--target-arg``, default ``name``) must be exactly
  a name shown by an earlier result of a read tool (``--read``, default ``list_agents,get_agent``)
  in this connection. Results count when they are JSON objects with a ``name``, or lists of them.
- **confirmed**: over MCP the proxy never sees the conversation, and anything the agent sends it
  (a "the user said yes" argument, a token it was shown) the agent could make up. So the proxy
  asks the human itself, through the client, with an MCP *elicitation*: "Allow
  shutdown_agent(name='domain02')? domain02: prod, domain controller, running" → approve or not.
  Only an approval forwards the call; one question per call. On the 2026-07-28 protocol the
  question rides an ``InputRequiredResult`` (the client answers and retries the call); on older
  protocols it is an ``elicitation/create`` request during the call.

A refused call is not forwarded: the agent gets a tool error (``isError``) that starts with
``blocked by ajtrain.guard:`` and says what to do instead.

Limits, stated plainly:

- The confirmation is only as good as the client: it must show the question to a person and not
  answer it automatically. A client without elicitation support gets every destructive call
  refused (``--confirm none`` then keeps only the grounded + exact checks; the agent's own
  confirmation dialogue is then unchecked, and a machine shown as ``protected`` is always
  refused, since nobody can approve it).
- Grounding trusts the upstream's read results and knows only the tools named in ``--read``; the
  state is per connection, in memory (a new connection starts with nothing shown).
- The tool list is read once at start; upstream ``tools/list_changed`` and upstream requests for
  user input are not relayed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server import Server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..fleet import ToolKind
from ..fleet.server import serve_stdio, text_result
from ..shutdown.text import describe
from ..transcript import shown_machines
from .policy import PREFIX, TargetGuard
from .session import GuardSession

if sys.version_info < (3, 11):  # anyio installs the backport there
    from exceptiongroup import BaseExceptionGroup

CONFIRM_KEY = "ajtrain.guard.confirm"
CONFIRM_MODES = ("elicit", "none")
APPROVE_SCHEMA = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve",
            "description": "true runs the call on exactly this machine; false refuses it",
        }
    },
    "required": ["approve"],
}


@dataclass
class ProxyState:
    """One proxied connection: the upstream client, its tools and the guard's transcript."""

    upstream: Client
    tools: list[types.Tool]
    session: GuardSession
    confirm: str

    @property
    def guard(self) -> TargetGuard:
        return self.session.guard


async def list_upstream_tools(upstream: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor = None
    while True:
        page = await upstream.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def check_tools(tools: list[types.Tool], guard: TargetGuard) -> None:
    """Refuse to start when a destructive tool's target argument is not in its schema: the
    guard would otherwise refuse every call to it, or (worse) check the wrong argument."""
    by_name = {t.name: t for t in tools}
    for name in guard.destructive:
        tool = by_name.get(name)
        if tool is None:
            print(
                f"ajtrain guard: upstream has no tool {name!r} (nothing to gate)", file=sys.stderr
            )
        elif guard.target_arg not in (tool.input_schema or {}).get("properties", {}):
            raise ValueError(
                f"upstream tool {name!r} has no argument {guard.target_arg!r}; "
                f"pass --target-arg with the argument that names its target"
            )


def result_text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def forward(state: ProxyState, tool: str, args: dict[str, Any]) -> types.CallToolResult:
    """Run the call upstream and record it (a read result grounds the names it shows)."""
    result = await state.upstream.call_tool(tool, args)
    text = result_text(result)
    state.session.record(tool, args, f"error: {text}" if result.is_error else text)
    return result


def refuse(state: ProxyState, tool: str, args: dict[str, Any], reason: str):
    state.session.blocked.append({"tool": tool, "arguments": args, "reason": reason})
    state.session.record(tool, args, reason)
    print(reason, file=sys.stderr)
    return text_result(reason, is_error=True)


def question(state: ProxyState, tool: str, target: str) -> str:
    record = shown_machines(state.session.messages, state.guard.read).get(target, {})
    facts = describe(record)
    about = f" {target}: {facts}." if facts else ""
    return (
        f"The agent asks to run {tool}({state.guard.target_arg}={target!r}).{about} "
        f"Allow it, on exactly {target}?"
    )


def approval_refusal(answer: types.ElicitResult | None, call: str) -> str | None:
    """None when the person approved; else the refusal that says what happened."""
    approved = answer is not None and answer.action == "accept"
    if approved and (answer.content or {}).get("approve") is True:  # not "false", not 1
        return None
    how = {"decline": "declined", "cancel": "cancelled"}.get(
        answer and answer.action, "did not approve"
    )
    return (
        f"{PREFIX}the user {how} {call}. Nothing was done. Do not retry it unless the user "
        "asks again; ask them which machine they mean."
    )


async def ask_user(
    ctx, params: types.CallToolRequestParams, state: ProxyState, tool: str, target: str
) -> types.InputRequiredResult | str | None:
    """Ask the person to approve this exact call: None (approved), a refusal text, or, on the
    2026-07-28 protocol, the ``InputRequiredResult`` that carries the question."""
    call = f"{tool}('{target}')"
    caps = ctx.session.client_capabilities
    if caps is None or caps.elicitation is None:
        return (
            f"{PREFIX}{call} needs the user's approval, and this MCP client cannot ask them "
            "(no elicitation support). Nothing was done. Tell the user to run it themselves, or "
            "to use a client that supports elicitation."
        )
    message = question(state, tool, target)
    # The state binds an answer to the question it answers (this tool, this target).
    bound = hashlib.sha256(message.encode()).hexdigest()[:16]
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = (params.input_responses or {}).get(CONFIRM_KEY)
        if answer is None or params.request_state != bound:
            form = types.ElicitRequestFormParams(message=message, requested_schema=APPROVE_SCHEMA)
            return types.InputRequiredResult(
                input_requests={CONFIRM_KEY: types.ElicitRequest(params=form)},
                request_state=bound,
            )
        answer = answer if isinstance(answer, types.ElicitResult) else None
    else:
        try:
            answer = await ctx.session.elicit_form(
                message, APPROVE_SCHEMA, related_request_id=ctx.request_id
            )
        except Exception as e:  # the client failed to ask: never a yes
            return f"{PREFIX}{call}: asking the user failed ({e}). Nothing was done."
    refusal = approval_refusal(answer, call)
    if refusal is None:  # the approval becomes the dialogue the guard reads: a proposal of
        # exactly this call (not the question itself, whose machine facts are upstream text)
        state.session.assistant(f"Run {call} on exactly {target}?")
        state.session.user("yes")
    return refusal


async def call_tool(ctx, params: types.CallToolRequestParams):
    state: ProxyState = ctx.lifespan_context
    tool, args = params.name, dict(params.arguments or {})
    if state.guard.kind_of(tool) is not ToolKind.DESTRUCTIVE:
        return await forward(state, tool, args)
    if state.confirm == "none":  # grounded + exact; a protected machine still needs a yes
        refusal = state.session.check(tool, args, require_confirmation=False)
    else:
        refusal = state.guard.grounded(state.session.messages, tool, args)
    if refusal is not None:
        return refuse(state, tool, args, refusal)
    if state.confirm == "elicit":
        asked = await ask_user(ctx, params, state, tool, args[state.guard.target_arg])
        if isinstance(asked, types.InputRequiredResult):
            return asked
        if asked is not None:
            return refuse(state, tool, args, asked)
        refusal = state.session.check(tool, args)  # the whole policy, now with the approval
        if refusal is not None:
            return refuse(state, tool, args, refusal)
    return await forward(state, tool, args)


async def list_tools(ctx, params) -> types.ListToolsResult:
    return types.ListToolsResult(tools=ctx.lifespan_context.tools)


def build_proxy(
    upstream: StdioServerParameters, guard: TargetGuard | None = None, confirm: str = "elicit"
) -> Server:
    """A low-level MCP server that fronts ``upstream`` with the guard."""
    if confirm not in CONFIRM_MODES:
        raise ValueError(f"confirm must be one of {CONFIRM_MODES}, not {confirm!r}")
    guard = guard or TargetGuard()

    @asynccontextmanager
    async def lifespan(_server: Server) -> AsyncIterator[ProxyState]:
        started = False
        try:
            async with Client(upstream) as client:
                tools = await list_upstream_tools(client)
                check_tools(tools, guard)
                started = True
                yield ProxyState(client, tools, GuardSession(guard), confirm)
        except Exception as e:  # the SDK's task groups wrap it: look at the leaf
            leaf = _only_leaf(e) if isinstance(e, BaseExceptionGroup) else e
            if started or not isinstance(leaf, MCPError):
                raise
            command = " ".join([upstream.command, *upstream.args])
            raise ValueError(
                f"the upstream MCP server ({command}) stopped before it served its tools: "
                f"{leaf}. Its own error, if it printed one, is above"
            ) from None

    return Server(
        "ajtrain-guard",
        instructions=(
            "Tools of an upstream server behind ajtrain.guard: destructive calls run only on a "
            "machine shown by a read tool, named exactly, and approved by the user."
        ),
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve_proxy(
    command: list[str], guard: TargetGuard | None = None, confirm: str = "elicit"
) -> None:
    """Start ``command`` (an MCP stdio server) and serve it behind the guard on stdio (blocks)."""
    if not command:
        raise ValueError("no upstream server command: ajtrain guard serve -- COMMAND [ARGS...]")
    if shutil.which(command[0]) is None:
        raise FileNotFoundError(f"upstream server command not found: {command[0]!r}")
    # The upstream gets this process's environment, as if the user had run it directly.
    upstream = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    try:
        anyio.run(serve_stdio, build_proxy(upstream, guard, confirm))
    except BaseExceptionGroup as group:  # task groups wrap a start-up error: show it plainly
        raise _only_leaf(group) from None


def _only_leaf(group: BaseExceptionGroup) -> BaseException:
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            leaves.append(e)
    return leaves[0] if len(leaves) == 1 else group
