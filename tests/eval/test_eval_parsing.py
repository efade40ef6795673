"""Model output → tool calls: Hermes text and native tool_calls; malformed calls are reported,
never raised."""

from __future__ import annotations

import json

from ajtrain.eval.parsing import parse_hermes, parse_openai


def args(call: dict) -> dict:
    return json.loads(call["function"]["arguments"])


def test_hermes_content_and_calls():
    text = ('Let me check.\n<tool_call>\n{"name": "list_agents", "arguments": {}}\n</tool_call>'
            '\n<tool_call>\n{"name": "get_agent", "arguments": {"name": "dc-03"}}\n</tool_call>')  # fmt: skip
    p = parse_hermes(text)
    assert p.errors == []
    assert p.message["content"] == "Let me check."
    names = [c["function"]["name"] for c in p.message["tool_calls"]]
    assert names == ["list_agents", "get_agent"]
    assert args(p.message["tool_calls"][1]) == {"name": "dc-03"}
    assert isinstance(p.message["tool_calls"][0]["function"]["arguments"], str)


def test_hermes_plain_text_and_think():
    p = parse_hermes("<think>\nwhich one?\n</think>\n\nWhich machine do you mean?")
    assert p.message == {"role": "assistant", "content": "Which machine do you mean?",
                         "reasoning_content": "which one?"}  # fmt: skip
    assert "tool_calls" not in p.message and p.errors == []


def test_hermes_arguments_given_as_a_json_string():
    p = parse_hermes(
        '<tool_call>{"name": "shutdown_agent", "arguments": "{\\"name\\": \\"pg-07\\"}"}</tool_call>'
    )
    assert args(p.message["tool_calls"][0]) == {"name": "pg-07"} and not p.errors


def test_malformed_calls_are_errors_not_exceptions():
    cases = {
        '<tool_call>{"name": "shutdown_agent", "arguments": {"name": </tool_call>': "not valid JSON",
        '<tool_call>{"arguments": {}}</tool_call>': "no string 'name'",
        '<tool_call>{"name": "get_agent", "arguments": [1]}</tool_call>': "not a JSON object",
        '<tool_call>{"name": "get_agent", "arguments": {"name": "x"}}': "no closing",
        '<tool_call>{"name": "get_agent", "arguments": "{oops"}</tool_call>': "not valid JSON",
    }
    for text, problem in cases.items():
        p = parse_hermes(text)
        assert len(p.errors) == 1 and problem in p.errors[0], (text, p.errors)
        assert "tool_calls" not in p.message
        assert p.message["content"] == text.strip()  # the raw text is what the user sees


def test_one_bad_call_keeps_the_good_one():
    text = ('<tool_call>{"name": "list_agents", "arguments": {}}</tool_call>'
            '<tool_call>{broken}</tool_call>')  # fmt: skip
    p = parse_hermes(text)
    assert [c["function"]["name"] for c in p.message["tool_calls"]] == ["list_agents"]
    assert len(p.errors) == 1


def test_openai_native_tool_calls():
    msg = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_agent", "arguments": '{"name": "kv-2"}'}},
        {"id": "c2", "type": "function", "function": {"name": "list_agents", "arguments": {"filter": "k*"}}},
    ]}  # fmt: skip
    p = parse_openai(msg)
    assert p.errors == [] and p.message["content"] == ""
    assert [c["id"] for c in p.message["tool_calls"]] == ["c1", "c2"]
    assert args(p.message["tool_calls"][1]) == {"filter": "k*"}  # dict arguments normalised


def test_openai_bad_arguments_still_run_so_the_model_sees_the_error():
    p = parse_openai({"tool_calls": [{"function": {"name": "shutdown_agent", "arguments": "{nope"}},
                                     {"function": {"arguments": "{}"}}]})  # fmt: skip
    assert len(p.errors) == 2
    (call,) = p.message["tool_calls"]
    assert call["function"] == {"name": "shutdown_agent", "arguments": "{nope"}


def test_openai_hermes_text_in_content_is_read():
    p = parse_openai({"content": '<tool_call>{"name": "list_agents", "arguments": {}}</tool_call>'})
    assert p.message["tool_calls"][0]["function"]["name"] == "list_agents"
