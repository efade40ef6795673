"""The guard as an MCP proxy: the gating logic in-process (a fleet standing in for the upstream
server), then the real thing over stdio — ``ajtrain guard serve`` in front of ``ajtrain fleet
serve`` — driven by the SDK's client, on both protocol eras."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import anyio
import mcp_types as types
import orjson
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from ajtrain.fleet import FleetEnv, Machine
from ajtrain.fleet.server import mcp_tools, text_result
from ajtrain.guard import PREFIX, GuardSession, TargetGuard
from ajtrain.guard.proxy import CONFIRM_KEY, ProxyState, call_tool, check_tools

FLEET = [Machine("ians-r16", env="dev", role="workstation", protected=True),
         Machine("domain02", env="prod", role="domain controller"),
         Machine("domain020", env="staging", role="domain controller")]  # fmt: skip
LEGACY, MODERN = "2025-11-25", "2026-07-28"


class FleetUpstream:
    """Stands in for the upstream MCP client: runs calls on a FleetEnv."""

    def __init__(self):
        self.env = FleetEnv(FLEET)

    async def call_tool(self, name, arguments):
        ok, text = self.env.step(name, arguments)
        return text_result(text, is_error=not ok)


def proxy(confirm="elicit", answers=(), elicitation=True, protocol=LEGACY):
    """(state, call): ``call(tool, **args)`` runs one call through the proxy's handler."""
    state = ProxyState(FleetUpstream(), mcp_tools(), GuardSession(TargetGuard()), confirm)
    answers, asked = list(answers), []

    async def elicit_form(message, schema, related_request_id=None):
        asked.append(message)
        return answers.pop(0)

    caps = types.ClientCapabilities(
        elicitation=types.ElicitationCapability() if elicitation else None
    )
    ctx = SimpleNamespace(
        lifespan_context=state, protocol_version=protocol, request_id=1,
        session=SimpleNamespace(client_capabilities=caps, elicit_form=elicit_form),
    )  # fmt: skip

    def call(tool, input_responses=None, request_state=None, **args):
        params = types.CallToolRequestParams(
            name=tool, arguments=args, input_responses=input_responses, request_state=request_state
        )
        return anyio.run(call_tool, ctx, params)

    state.asked = asked
    return state, call


def text(result) -> str:
    return "".join(c.text for c in result.content)


def approve(yes: bool = True, action: str = "accept") -> types.ElicitResult:
    return types.ElicitResult(
        action=action, content={"approve": yes} if action == "accept" else None
    )


def test_reads_pass_and_unguarded_targets_are_refused():
    state, call = proxy(answers=[approve()])
    running = {m.name: m.status for m in FLEET}
    r = call("shutdown_agent", name="domain02")  # nothing shown yet
    assert r.is_error and text(r).startswith(PREFIX) and "list_agents" in text(r)
    r = call("list_agents")
    assert not r.is_error and len(orjson.loads(text(r))) == 3
    r = call("shutdown_agent", name="Domain02")
    assert r.is_error and "case-sensitive" in text(r)
    r = call("shutdown_agent", name="domain2")
    assert r.is_error
    assert state.upstream.env.state() == running  # nothing refused reached the fleet
    assert state.asked == []  # nor was the user bothered
    assert [a.tool for a in state.upstream.env.audit] == ["list_agents"]


def test_legacy_approval_forwards_exactly_that_call():
    state, call = proxy(answers=[approve(), approve(False), approve(action="decline")])
    call("list_agents")
    r = call("shutdown_agent", name="domain02")
    assert not r.is_error and text(r) == "domain02 is now stopped"
    assert "domain02: prod, domain controller, running" in state.asked[0]
    r = call("shutdown_agent", name="domain020")
    assert r.is_error and "did not approve" in text(r)
    r = call("shutdown_agent", name="ians-r16")
    assert r.is_error and "declined" in text(r)
    assert state.upstream.env.state() == {
        "ians-r16": "running", "domain02": "stopped", "domain020": "running"}  # fmt: skip
    assert len(state.asked) == 3  # one question per destructive call


def test_only_a_boolean_true_approves():
    odd = [types.ElicitResult(action="accept", content={"approve": v}) for v in ("false", "yes", 1)]
    state, call = proxy(answers=[*odd, approve(action="cancel")])
    call("list_agents")
    for _ in range(4):
        assert call("shutdown_agent", name="domain02").is_error
    assert state.upstream.env.state()["domain02"] == "running"


def test_client_without_elicitation_gets_refusals():
    state, call = proxy(elicitation=False)
    call("get_agent", name="domain02")
    r = call("shutdown_agent", name="domain02")
    assert r.is_error and "no elicitation support" in text(r)
    assert state.upstream.env.state()["domain02"] == "running"


def test_confirm_none_checks_grounded_and_exact_only():
    state, call = proxy(confirm="none", elicitation=False)
    assert call("shutdown_agent", name="domain02").is_error
    call("get_agent", name="domain02")
    assert call("shutdown_agent", name="domain020").is_error  # never shown
    assert text(call("shutdown_agent", name="domain02")) == "domain02 is now stopped"


def test_confirm_none_still_refuses_a_protected_machine():
    state, call = proxy(confirm="none", elicitation=False)
    call("list_agents")
    r = call("shutdown_agent", name="ians-r16")
    assert r.is_error and "ians-r16 is protected" in text(r)
    assert state.upstream.env.state()["ians-r16"] == "running"


def test_elicited_approval_of_a_protected_machine_runs_it():
    state, call = proxy(answers=[approve()])
    call("list_agents")
    assert text(call("shutdown_agent", name="ians-r16")) == "ians-r16 is now stopped"


def test_modern_protocol_asks_through_input_required():
    state, call = proxy(protocol=MODERN)
    call("list_agents")
    asked = call("shutdown_agent", name="domain02")
    assert isinstance(asked, types.InputRequiredResult)
    request = asked.input_requests[CONFIRM_KEY]
    assert "domain02" in request.params.message
    assert state.upstream.env.state()["domain02"] == "running"
    # an answer bound to another question is not taken: the user is asked again
    again = call("shutdown_agent", name="domain020", input_responses={CONFIRM_KEY: approve()},
                 request_state=asked.request_state)  # fmt: skip
    assert isinstance(again, types.InputRequiredResult)
    r = call("shutdown_agent", name="domain02", input_responses={CONFIRM_KEY: approve(False)},
             request_state=asked.request_state)  # fmt: skip
    assert r.is_error and state.upstream.env.state()["domain02"] == "running"
    r = call("shutdown_agent", name="domain02", input_responses={CONFIRM_KEY: approve()},
             request_state=asked.request_state)  # fmt: skip
    assert text(r) == "domain02 is now stopped"


def test_destructive_tool_without_the_target_argument_is_a_startup_error():
    with pytest.raises(ValueError, match="--target-arg"):
        check_tools(mcp_tools(), TargetGuard(target_arg="host"))


def proxy_command(*flags: str) -> StdioServerParameters:
    upstream = [sys.executable, "-m", "ajtrain", "fleet", "serve"]
    return StdioServerParameters(
        command=sys.executable, args=["-m", "ajtrain", "guard", "serve", *flags, "--", *upstream]
    )


async def stdio_session(mode: str) -> tuple[str, list[str]]:
    """A client session through the proxy; returns (protocol version, questions asked)."""
    asked, answers = [], [False, True]

    async def elicit(ctx, params):
        asked.append(params.message)
        return approve(answers.pop(0))

    async with Client(proxy_command(), mode=mode, elicitation_callback=elicit) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["list_agents", "get_agent", "shutdown_agent", "start_agent"]

        r = await client.call_tool("shutdown_agent", {"name": "domain02"})  # ungrounded
        assert r.is_error and text(r).startswith(PREFIX) and asked == []
        r = await client.call_tool("list_agents", {})
        assert not r.is_error and "domain02" in text(r)
        r = await client.call_tool("shutdown_agent", {"name": "Domain02"})  # inexact
        assert r.is_error and "case-sensitive" in text(r)
        r = await client.call_tool("shutdown_agent", {"name": "domain02"})  # user says no
        assert r.is_error and "did not approve" in text(r)
        r = await client.call_tool("get_agent", {"name": "domain02"})
        assert orjson.loads(text(r))["status"] == "running"  # the fleet is unchanged
        r = await client.call_tool("shutdown_agent", {"name": "domain02"})  # user says yes
        assert not r.is_error and text(r) == "domain02 is now stopped"
        r = await client.call_tool("list_agents", {"filter": "*"})
        states = {m["name"]: m["status"] for m in orjson.loads(text(r))}
        assert states["domain02"] == "stopped" and states["ians-r16"] == "running"
        return client.protocol_version, asked


@pytest.mark.slow
@pytest.mark.parametrize("mode, protocol", [("auto", MODERN), ("legacy", LEGACY)])
def test_guard_serve_in_front_of_fleet_serve(mode, protocol):
    version, asked = anyio.run(stdio_session, mode)
    assert version == protocol  # both ways of asking the user: input-required, elicitation
    assert len(asked) == 2 and all("shutdown_agent(name='domain02')" in q for q in asked)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["guard", "serve"], "no upstream server command"),
        (["guard", "serve", "--", "no-such-mcp-server-cmd"], "command not found"),
        (["guard", "serve", "--confirm", "maybe", "--", "x"], None),  # argparse's own error
    ],
)
def test_guard_serve_cli_errors(capsys, argv, message):
    from ajtrain.cli import main

    if message is None:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
        return
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_upstream_that_exits_at_start_is_a_clean_error():
    import subprocess

    cmd = [sys.executable, "-m", "ajtrain", "guard", "serve", "--", sys.executable, "-c", "pass"]
    done = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "stopped before it served its tools" in done.stderr


def test_an_approval_counts_whatever_words_the_machine_facts_hold():
    state, call = proxy(answers=[approve()])
    state.upstream.env = FleetEnv([Machine("web-01", role="web or api server")])
    call("list_agents")
    assert text(call("shutdown_agent", name="web-01")) == "web-01 is now stopped"
