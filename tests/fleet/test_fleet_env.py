"""FleetEnv: exact, case-sensitive names (never a fuzzy match) and an audit log of every call."""

from __future__ import annotations

import orjson
import pytest

from ajtrain.fleet import FleetEnv, FleetError, Machine

FLEET = [Machine("domain02", env="prod"), Machine("domain020", env="staging"),
         Machine("Web-01"), Machine("old-01", status="stopped")]  # fmt: skip


@pytest.fixture
def env() -> FleetEnv:
    return FleetEnv(FLEET)


@pytest.mark.parametrize("typed", ["Domain02", "DOMAIN02", "domain2", "domain02 ", "web-01", ""])
def test_inexact_names_are_errors_and_change_nothing(env, typed):
    before = env.state()
    ok, text = env.step("shutdown_agent", {"name": typed})
    assert not ok and f"no machine named '{typed}'" in text and "case-sensitive" in text
    assert env.state() == before
    assert env.step("get_agent", {"name": typed})[0] is False


def test_exact_names_act_on_that_machine_only(env):
    assert env.step("shutdown_agent", {"name": "domain02"}) == (True, "domain02 is now stopped")
    assert env.state() == {"domain02": "stopped", "domain020": "running",
                           "Web-01": "running", "old-01": "stopped"}  # fmt: skip
    assert env.step("shutdown_agent", {"name": "domain02"}) == (True, "domain02 is already stopped")
    assert env.step("start_agent", '{"name": "domain02"}') == (True, "domain02 is now running")


def test_list_filter_is_case_sensitive(env):
    names = lambda f: [m["name"] for m in orjson.loads(env.step("list_agents", {"filter": f})[1])]  # noqa: E731
    assert names("domain02*") == ["domain02", "domain020"]
    assert names("web-*") == []
    assert names("Web-*") == ["Web-01"]
    assert len(names("")) == 4


def test_audit_log_keeps_every_call(env):
    env.step("list_agents", {})
    env.step("shutdown_agent", {"name": "Domain02"})
    env.step("shutdown_agent", {"name": "domain02"})
    env.step("shutdown_agent", "{not json")
    env.step("reboot_agent", {"name": "domain02"})
    env.step("get_agent", {"name": "domain02", "verbose": True})
    audit = env.audit
    assert [a.step for a in audit] == list(range(6))
    assert [(a.tool, a.ok, a.changed) for a in audit] == [
        ("list_agents", True, False),
        ("shutdown_agent", False, False),
        ("shutdown_agent", True, True),
        ("shutdown_agent", False, False),
        ("reboot_agent", False, False),
        ("get_agent", False, False),
    ]
    assert audit[1].target == "Domain02" and audit[2].target == "domain02"
    assert "not valid JSON" in audit[3].result and "unknown tool" in audit[4].result
    assert "bad arguments" in audit[5].result


def test_reset_rejects_duplicates_and_clears_the_audit(env):
    env.step("list_agents")
    env.reset(FLEET[:1])
    assert env.audit == [] and env.state() == {"domain02": "running"}
    with pytest.raises(FleetError, match="duplicate"):
        env.reset([Machine("a"), Machine("a")])
