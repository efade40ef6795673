"""The transcript layer: tool calls and their arguments, machines shown, names, and a user's yes."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from ajtrain.records import make_record
from ajtrain.transcript import (
    NAME_PATTERN,
    call_args,
    calls_in,
    executed_view,
    is_affirmative,
    load_args,
    mentioned_names,
    parse_args,
    proposed_names,
    shown_in,
    shown_machines,
    tool_call,
    yes_to,
)

READ = ("list_agents", "get_agent")


def result(tool: str, content, call_id: str = "c0") -> dict:
    text = content if isinstance(content, str) else orjson.dumps(content).decode()
    return {"role": "tool", "tool_call_id": call_id, "name": tool, "content": text}


# --- tool calls -------------------------------------------------------------------------------


def test_tool_call_serialises_dict_arguments_and_keeps_text():
    assert tool_call("get_agent", {"name": "web1"}) == {
        "type": "function",
        "function": {"name": "get_agent", "arguments": '{"name":"web1"}'},
    }
    assert tool_call("list_agents")["function"]["arguments"] == "{}"
    assert tool_call("f", '{"a": 1}')["function"]["arguments"] == '{"a": 1}'  # text as it is
    assert tool_call("f", "{bad")["function"]["arguments"] == "{bad"  # a model's broken call


def test_tool_call_with_an_id_is_a_valid_record_call():
    call = tool_call("list_agents", {}, "call_0")
    assert list(call) == ["id", "type", "function"]
    msgs = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        result("list_agents", [], "call_0"),
    ]
    make_record("r", "test", "", [], msgs)  # validates


def test_load_args_decodes_any_json_and_raises_on_text_that_is_not():
    assert load_args(None) == {} and load_args("") == {}
    assert load_args("[1, 2]") == [1, 2] and load_args('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError):
        load_args("{bad")
    with pytest.raises(ValueError):
        load_args({"a": 1})  # not text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"name": "web1"}', {"name": "web1"}),
        ("", {}),
        (None, {}),
        ({"name": "web1"}, {"name": "web1"}),
        ("{bad", None),
        ("[1]", None),
        ('"text"', None),
        ("null", None),
    ],
)
def test_parse_args_is_a_dict_or_none(arguments, expected):
    assert parse_args(arguments) == expected


def test_call_args_reads_a_record_call():
    assert call_args(tool_call("shutdown_agent", {"name": "web1"})) == {"name": "web1"}
    assert call_args(tool_call("f", "{bad")) is None
    assert call_args(tool_call("f", "[1]")) is None
    assert call_args({"function": {"name": "f"}}) == {}  # no arguments: none needed
    # in a record, arguments are text: an object there is a malformed call
    assert call_args({"function": {"name": "f", "arguments": {"name": "web1"}}}) is None


def test_calls_in_reads_only_assistant_messages():
    call = tool_call("list_agents", {}, "c0")
    assert calls_in({"role": "assistant", "content": "", "tool_calls": [call]}) == [call]
    assert calls_in({"role": "assistant", "content": "hi"}) == []
    assert calls_in({"role": "user", "content": "x", "tool_calls": [call]}) == []


def test_executed_view_takes_out_refused_calls_and_their_results():
    ok, refused = tool_call("list_agents", {}, "c0"), tool_call("shutdown_agent", {}, "c1")
    msgs = [
        {"role": "user", "content": "stop web1"},
        {"role": "assistant", "content": "", "tool_calls": [ok, refused]},
        result("list_agents", [], "c0"),
        result("shutdown_agent", "blocked", "c1"),
        {"role": "assistant", "content": "", "tool_calls": [tool_call("shutdown_agent", {}, "c2")]},
        result("shutdown_agent", "blocked", "c2"),
        {"role": "assistant", "content": "I could not."},
    ]
    blocked = [{"call": refused, "reason": "x"}, {"call": {"id": "c2"}, "reason": "x"}]
    view = executed_view(msgs, blocked)
    assert view == [
        msgs[0],
        {"role": "assistant", "content": "", "tool_calls": [ok]},
        msgs[2],
        msgs[6],
    ]
    assert executed_view(msgs, []) is msgs


# --- machines shown ---------------------------------------------------------------------------


def test_machines_shown_come_from_read_tools_only_and_the_latest_view_wins():
    msgs = [
        result("list_agents", [{"name": "web1", "status": "running"}, {"name": "db1"}]),
        result("get_agent", {"name": "web1", "status": "stopped"}),
        result("shutdown_agent", {"name": "ghost"}),  # not a read tool
        result("get_agent", "error: no machine named 'x'"),  # not JSON
        result("list_agents", [{"status": "running"}, {"name": 3}, "web9"]),  # no string name
        {"role": "user", "content": '{"name": "typed"}'},
    ]
    shown = shown_machines(msgs, READ)
    assert list(shown) == ["web1", "db1"]
    assert shown["web1"]["status"] == "stopped"
    assert shown_in(msgs[1], READ) == [{"name": "web1", "status": "stopped"}]
    assert shown_in(msgs[2], READ) == [] and shown_in(msgs[5], READ) == []
    assert shown_machines(msgs, ("get_agent",)) == {"web1": {"name": "web1", "status": "stopped"}}


# --- names and yes ----------------------------------------------------------------------------


def test_names_are_whole_exact_tokens():
    names = ["domain02", "domain020", "web-1"]
    assert mentioned_names("Shut down domain02 and web-1? domain02!", names) == [
        "domain02",
        "web-1",
    ]
    assert mentioned_names("Domain02, domain0202, xdomain02", names) == []
    assert mentioned_names(None, names) == []


def test_the_fleet_enforces_the_name_pattern_messages_are_read_with():
    from ajtrain.fleet import machines

    assert machines.NAME_PATTERN is NAME_PATTERN


def test_a_question_asking_to_choose_proposes_nothing():
    names = ["web1", "web2"]
    assert proposed_names("Shut down web1 and web2? Please confirm.", names) == ["web1", "web2"]
    assert proposed_names("web1 and web2 match: which one?", names) == []
    assert proposed_names("web1 or web2?", names) == []
    assert proposed_names("Which ONE: web1?", names) == []  # any case
    assert proposed_names("One of web1, web2.", names) == []


def test_a_choice_word_inside_a_machine_name_is_not_a_choice():
    names = ["or-musazot-01", "which-db", "either7"]
    text = "Shut down or-musazot-01, which-db and either7? Please confirm."
    assert proposed_names(text, names) == names
    assert proposed_names("or-musazot-01 or which-db?", names) == []


@pytest.mark.parametrize(
    ("text", "yes"),
    [("yes", True), ("Yes, go ahead", True), ("ok.", True), ("no", False), ("", False),
     ("  Sure thing", True), ("why yes", False), (None, False)],
)  # fmt: skip
def test_is_affirmative_reads_the_first_word(text, yes):
    assert is_affirmative(text) is yes


def test_yes_to_names_what_the_message_before_the_yes_offered():
    names = ["web1", "web2"]
    msgs = [
        {"role": "user", "content": "stop a web server"},
        {"role": "assistant", "content": "web1 or web2, which one?"},
        {"role": "user", "content": "yes"},
        {"role": "assistant", "content": "", "tool_calls": [tool_call("list_agents")]},
        {"role": "assistant", "content": "Shut down web2? Please confirm."},
        {"role": "user", "content": "no, web1"},
        {"role": "user", "content": "yes"},
    ]
    assert yes_to(msgs, 2, names) == ["web1", "web2"]  # every name it mentions
    assert yes_to(msgs, 2, names, read=proposed_names) == []  # a choice proposes nothing
    assert yes_to(msgs, 5, names) == []  # not a yes
    assert yes_to(msgs, 6, names) == ["web2"]  # the last assistant message before it
    assert yes_to([{"role": "user", "content": "yes web1"}], 0, names) == []  # nothing asked


def test_the_transcript_layer_imports_no_stage():
    code = "import sys, ajtrain.transcript; print(*(m for m in sys.modules if 'ajtrain' in m))"
    loaded = subprocess.check_output([sys.executable, "-c", code], text=True).split()
    assert sorted(loaded) == ["ajtrain", "ajtrain.records", "ajtrain.transcript"]
