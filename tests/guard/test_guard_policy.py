"""One test per check of the target guard: grounded, exact, confirmed, confirmed-this-machine."""

from __future__ import annotations

import orjson
import pytest

from ajtrain.fleet import (
    READ_TOOLS,
    TOOL_NAMES,
    FleetEnv,
    Machine,
    ToolKind,
    is_destructive,
    tools_of,
)
from ajtrain.guard import PREFIX, GuardSession, TargetGuard, confirmed_names, guarded
from ajtrain.transcript import shown_machines

FLEET = [
    Machine("ians-r16", env="dev", role="workstation", protected=True),
    Machine("domain02", env="prod", role="domain controller"),
    Machine("domain020", env="prod", role="domain controller"),
    Machine("Web-01", env="prod", role="web server"),
]
LISTED = orjson.dumps([m.to_dict() for m in FLEET]).decode()


def listed(*extra: dict) -> list[dict]:
    """A transcript: request, list_agents and its result, then ``extra`` messages."""
    call = {"id": "c0", "type": "function", "function": {"name": "list_agents", "arguments": "{}"}}
    return [
        {"role": "user", "content": "Shutdown domain02"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c0", "name": "list_agents", "content": LISTED},
        *extra,
    ]


def ask(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}, {"role": "user", "content": "yes"}]


guard = TargetGuard()


def shutdown(messages, name) -> str | None:
    return guard(messages, "shutdown_agent", orjson.dumps({"name": name}).decode())


def test_confirmed_grounded_exact_passes():
    assert shutdown(listed(*ask("Shut down domain02 (prod)? Please confirm.")), "domain02") is None


def test_read_and_repair_tools_pass_without_anything():
    assert guard([], "list_agents", "{}") is None
    assert guard([], "get_agent", '{"name": "nope"}') is None
    assert guard([], "start_agent", '{"name": "domain02"}') is None


def test_ungrounded_is_refused():
    # the user named it and said yes, but no read result ever showed it
    msgs = [{"role": "user", "content": "Shutdown domain02"}, *ask("Shut down domain02?")]
    refusal = shutdown(msgs, "domain02")
    assert refusal is not None and refusal.startswith(PREFIX)
    assert "list_agents" in refusal and "Nothing was done" in refusal


def test_error_result_does_not_ground():
    msgs = [
        {"role": "user", "content": "stop db9"},
        {"role": "tool", "name": "get_agent", "content": "error: no machine named 'db9'"},
        *ask("Shut down db9?"),
    ]
    assert shutdown(msgs, "db9") is not None


@pytest.mark.parametrize("typed", ["Domain02", "DOMAIN02", "web-01", "domain2", "domain02 "])
def test_inexact_name_is_refused(typed):
    msgs = listed(*ask(f"Shut down {typed}? Please confirm."))
    refusal = shutdown(msgs, typed)
    assert refusal is not None and refusal.startswith(PREFIX)


def test_case_different_name_gets_a_hint_not_an_action():
    refusal = shutdown(listed(*ask("Shut down Domain02?")), "Domain02")
    assert "case-sensitive" in refusal and "domain02" in refusal


def test_unconfirmed_is_refused():
    assert "not confirmed" in shutdown(listed(), "domain02")
    # asked, but the user has not answered yet
    asked = listed({"role": "assistant", "content": "Shut down domain02? Please confirm."})
    assert "not confirmed" in shutdown(asked, "domain02")
    # the user answered, but not yes
    msgs = listed({"role": "assistant", "content": "Shut down domain02?"},
                  {"role": "user", "content": "no, wait"})  # fmt: skip
    assert "not confirmed" in shutdown(msgs, "domain02")


def test_yes_to_a_message_naming_nothing_is_not_a_confirmation():
    assert "not confirmed" in shutdown(listed(*ask("Should I go ahead?")), "domain02")


def test_confirmed_other_machine_is_refused():
    refusal = shutdown(listed(*ask("Shut down domain020? Please confirm.")), "domain02")
    assert refusal is not None and "yes was to domain020, not domain02" in refusal


def test_yes_to_several_covers_each_named_and_nothing_else():
    msgs = listed(*ask("Shut down these 2 machines: domain02 and domain020? Please confirm."))
    assert shutdown(msgs, "domain02") is None
    assert shutdown(msgs, "domain020") is None
    refusal = shutdown(msgs, "ians-r16")  # named nowhere in the confirmed message
    assert "yes was to domain02 and domain020, not ians-r16" in refusal


def test_only_the_latest_yes_counts():
    first = ask("Shut down domain02? Please confirm.")
    later = [{"role": "assistant", "content": "Done. Anything else?"},
             {"role": "user", "content": "stop domain020 too"}]  # fmt: skip
    assert shutdown(listed(*first, *later), "domain02") is not None
    assert shutdown(listed(*first, *later), "domain020") is not None


def test_missing_or_bad_arguments_are_refused():
    msgs = listed(*ask("Shut down domain02?"))
    for args in ("{}", "not json", '["domain02"]', '{"name": 2}'):
        assert guard(msgs, "shutdown_agent", args).startswith(PREFIX)


def test_custom_destructive_tools_and_target_argument():
    g = TargetGuard(destructive=("shutdown_agent", "reboot"), target_arg="host")
    msgs = listed(*ask("Reboot domain02?"))
    assert g(msgs, "reboot", {"host": "domain02"}) is None
    assert g(msgs, "reboot", {"host": "ians-r16"}) is not None
    assert g(msgs, "reboot", {"name": "domain02"}) is not None  # the target is in 'host'


def shown_names(msgs, read_tools=READ_TOOLS):
    return list(shown_machines(msgs, read_tools))


def test_shown_and_confirmed_names():
    msgs = listed(*ask("Shut down domain02 and Web-01?"))
    assert shown_names(msgs) == [m.name for m in FLEET]
    assert confirmed_names(msgs, shown_names(msgs)) == ["domain02", "Web-01"]
    assert shown_names(msgs, read_tools=("get_agent",)) == []


@pytest.mark.parametrize(
    "question",
    [
        "domain02 and ians-r16 both match. Which one?",
        "Shut down domain02 or Web-01?",
        "2 machines match: domain02 and domain020. Which one should I shut down?",
        "Did you mean either domain02 or domain020?",
    ],
)
def test_yes_to_a_question_listing_candidates_confirms_nothing(question):
    msgs = listed(*ask(question))
    assert confirmed_names(msgs, shown_names(msgs)) == []
    for name in ("domain02", "ians-r16", "Web-01", "domain020"):
        assert "not confirmed" in shutdown(msgs, name)


def test_a_protected_machine_needs_a_yes_even_when_confirmation_is_off():
    s = GuardSession(messages=listed())
    assert s.check("shutdown_agent", {"name": "domain02"}, require_confirmation=False) is None
    refusal = s.check("shutdown_agent", {"name": "ians-r16"}, require_confirmation=False)
    assert refusal is not None and "ians-r16 is protected" in refusal
    s.assistant("Shut down ians-r16 (dev, workstation, protected)? Please confirm.")
    s.user("yes")
    assert s.check("shutdown_agent", {"name": "ians-r16"}, require_confirmation=False) is None


def test_guarded_executor_records_and_blocks():
    env = FleetEnv(FLEET)
    run = guarded(lambda tool, args: env.step(tool, args)[1])
    run.session.user("Shutdown domain02")
    assert orjson.loads(run("list_agents", {}))[1]["name"] == "domain02"
    # not confirmed yet: refused, and the fleet is unchanged
    assert run("shutdown_agent", {"name": "domain02"}).startswith(PREFIX)
    assert env.state()["domain02"] == "running"
    run.session.assistant("Shut down domain02 (prod, domain controller)? Please confirm.")
    run.session.user("yes")
    assert run("shutdown_agent", {"name": "ians-r16"}).startswith(PREFIX)
    assert run("shutdown_agent", '{"name": "domain02"}') == "domain02 is now stopped"
    assert env.state() == {"ians-r16": "running", "domain02": "stopped",
                           "domain020": "running", "Web-01": "running"}  # fmt: skip
    assert [b["arguments"] for b in run.session.blocked] == [
        {"name": "domain02"}, {"name": "ians-r16"}]  # fmt: skip
    # every call, blocked or not, is in the transcript with its result
    tool_msgs = [m for m in run.session.messages if m["role"] == "tool"]
    assert len(tool_msgs) == 4 and tool_msgs[-1]["content"] == "domain02 is now stopped"


def test_session_check_records_nothing():
    s = GuardSession(messages=listed())
    n = len(s.messages)
    assert s.check("shutdown_agent", {"name": "domain02"}) is not None
    assert s.check("shutdown_agent", {"name": "domain02"}, require_confirmation=False) is None
    assert len(s.messages) == n


def test_the_guard_imports_no_mcp_or_heavy_backend():
    # eval and the Episode use the guard without the MCP SDK (3 s to import) or torch
    import subprocess
    import sys

    code = (
        "import sys, ajtrain.guard, ajtrain.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('mcp', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exactly_the_destructive_tools_need_a_confirmed_target():
    # Every fleet tool, called on a machine that was shown but never confirmed: the guard
    # refuses a call iff the tool's declared kind is destructive, and passes it after a yes.
    unconfirmed, confirmed = listed(), listed(*ask("Shut down domain02?"))
    for tool in TOOL_NAMES:
        refusal = guard(unconfirmed, tool, {"name": "domain02"})
        assert (refusal is not None) == is_destructive(tool), tool
        assert guard(confirmed, tool, {"name": "domain02"}) is None, tool
    # the default guard's kinds are the fleet's declared ones
    for kind in (ToolKind.DESTRUCTIVE, ToolKind.READ):
        assert [t for t in TOOL_NAMES if guard.kind_of(t) is kind] == list(tools_of(kind))
