"""Each converter quirk on a small hand-made row, and each reject reason."""

from __future__ import annotations

import json

import pytest

from ajtrain.toucan.convert import (
    KIMI_PREFIX,
    KIMI_SUFFIX,
    Reject,
    convert_row,
    strip_tool_template,
)
from ajtrain.toucan.fixtures import NOUS_HEAD, NOUS_TAIL

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "wx-get_forecast",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "wx-get_uv",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]


def row(messages, tools=TOOLS, subset="single-turn-original", **extra):
    return {
        "uuid": "u-1",
        "subset_name": subset,
        "messages": json.dumps(messages, ensure_ascii=False),
        "question": "q",
        "available_tools": json.dumps(tools),
        "target_tools": "get_forecast",
        **extra,
    }


def call(name, args='{"city": "Faro"}', **extra):
    return {
        "role": "assistant",
        "content": "",
        "function_call": {"name": name, "arguments": args, **extra},
    }


def result(name, content="sunny"):
    return {"role": "function", "content": content, "name": name}


USER = {"role": "user", "content": "Weather and UV in Faro?"}
KIMI_SYSTEM = {"role": "system", "content": KIMI_PREFIX + json.dumps(TOOLS) + KIMI_SUFFIX}


def test_split_emission_with_parallel_calls_becomes_one_message():
    msgs = [
        KIMI_SYSTEM,
        USER,
        {"role": "assistant", "content": "Checking both."},
        call("wx-get_forecast"),
        call("wx-get_uv", '{"city": "Faro", "day": 1}'),
        result("wx-get_forecast", "sunny"),
        result("wx-get_uv", "UV 7"),
        {"role": "assistant", "content": "Sunny, UV 7."},
    ]
    rec = convert_row(row(msgs), "Kimi-K2")
    out = rec["messages"]
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "tool", "assistant"]
    emission = out[1]
    assert emission["content"] == "Checking both."
    assert [c["function"]["name"] for c in emission["tool_calls"]] == [
        "wx-get_forecast",
        "wx-get_uv",
    ]
    assert emission["tool_calls"][1]["function"]["arguments"] == '{"city": "Faro", "day": 1}'
    assert [m["tool_call_id"] for m in out[2:4]] == [c["id"] for c in emission["tool_calls"]]
    assert [(m["name"], m["content"]) for m in out[2:4]] == [
        ("wx-get_forecast", "sunny"),
        ("wx-get_uv", "UV 7"),
    ]


def test_results_out_of_call_order_are_matched_by_name():
    msgs = [
        USER,
        call("wx-get_forecast"),
        call("wx-get_uv"),
        result("wx-get_uv", "UV"),
        result("wx-get_forecast", "sun"),
        {"role": "assistant", "content": "done"},
    ]
    out = convert_row(row(msgs), "Qwen3")["messages"]
    ids = {c["function"]["name"]: c["id"] for c in out[1]["tool_calls"]}
    assert (
        out[2]["tool_call_id"] == ids["wx-get_uv"]
        and out[3]["tool_call_id"] == ids["wx-get_forecast"]
    )


def test_oss_reasoning_content_and_call_ids_are_kept():
    msgs = [
        USER,
        {"role": "assistant", "content": "", "reasoning_content": "Need the forecast."},
        call("wx-get_forecast", call_id="call_abc"),
        result("wx-get_forecast"),
        {"role": "assistant", "content": "Sunny.", "reasoning_content": "Answer."},
    ]
    out = convert_row(row(msgs), "OSS")["messages"]
    assert out[1]["reasoning_content"] == "Need the forecast."
    assert out[1]["tool_calls"][0]["id"] == "call_abc" and out[2]["tool_call_id"] == "call_abc"
    assert out[3] == {"role": "assistant", "content": "Sunny.", "reasoning_content": "Answer."}


def test_nous_template_is_removed_but_other_system_text_kept():
    lines = "\n".join(json.dumps(t) for t in TOOLS)
    system = {
        "role": "system",
        "content": "You are a weather bot.\n\n" + NOUS_HEAD + lines + NOUS_TAIL,
    }
    msgs = [
        system,
        USER,
        call("wx-get_forecast"),
        result("wx-get_forecast"),
        {"role": "assistant", "content": "ok"},
    ]
    out = convert_row(row(msgs), "Qwen3")["messages"]
    assert out[0] == {"role": "system", "content": "You are a weather bot."}
    rest, declared = strip_tool_template(system["content"])
    assert rest == "You are a weather bot." and json.loads(declared) == TOOLS


def test_sft_roles_and_python_literal_calls():
    fc = {"name": "wx-get_forecast", "arguments": '{"city": "São Paulo"}'}
    msgs = [
        USER,
        {"role": "assistant", "content": "Looking."},
        {"role": "tool_call", "content": str(fc)},
        {"role": "tool_response", "content": "rain"},
        {"role": "assistant", "content": "Rain."},
    ]
    r = {
        "uuid": "u",
        "subset_name": "multi-turn",
        "question": "q",
        "target_tools": "",
        "tools": json.dumps(TOOLS),
        "messages": json.dumps(msgs),
    }
    out = convert_row(r, "SFT")["messages"]
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "assistant"]
    assert out[1]["content"] == "Looking."
    assert out[1]["tool_calls"][0]["function"] == fc
    assert out[2]["name"] == "wx-get_forecast" and out[2]["content"] == "rain"


def test_empty_arguments_are_normalised_to_an_empty_object():
    msgs = [
        USER,
        call("wx-get_uv", ""),
        result("wx-get_uv"),
        {"role": "assistant", "content": "ok"},
    ]
    out = convert_row(row(msgs), "Kimi-K2")["messages"]
    assert out[1]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_tools_missing_from_available_come_from_the_declaration_else_reject():
    extra = {
        "type": "function",
        "function": {"name": "wx-alerts", "description": "a", "parameters": {"type": "object"}},
    }
    system = {"role": "system", "content": KIMI_PREFIX + json.dumps(TOOLS + [extra]) + KIMI_SUFFIX}
    msgs = [
        system,
        USER,
        call("wx-alerts", "{}"),
        result("wx-alerts"),
        {"role": "assistant", "content": "ok"},
    ]
    rec = convert_row(row(msgs), "Kimi-K2")
    assert json.loads(rec["tools"]) == TOOLS + [extra]
    with pytest.raises(Reject) as e:
        convert_row(row(msgs[1:]), "Kimi-K2")
    assert e.value.reason == "unknown_tool" and "wx-alerts" in e.value.detail


@pytest.mark.parametrize(
    ("msgs", "reason"),
    [
        ([USER, call("wx-get_uv", '{"city": '), result("wx-get_uv")], "invalid_arguments"),
        ([USER, call("wx-get_uv", "[1, 2]"), result("wx-get_uv")], "invalid_arguments"),
        ([USER, result("wx-get_uv"), {"role": "assistant", "content": "x"}], "orphan_tool_result"),
        ([USER, call("wx-get_uv"), result("wx-get_forecast")], "orphan_tool_result"),
        ([USER, {"role": "critic", "content": "x"}], "unknown_role"),
        ([USER], "no_assistant"),
        ([{"role": "assistant", "content": "hi"}], "no_user"),
        (
            [{"role": "user", "content": "<|im_user|>hi"}, {"role": "assistant", "content": "x"}],
            "template_leak",
        ),
        ([USER, {"role": "assistant", "content": "see <tools>"}], "template_leak"),
    ],
)
def test_rejects_name_their_reason(msgs, reason):
    with pytest.raises(Reject) as e:
        convert_row(row(msgs), "Kimi-K2")
    assert e.value.reason == reason


def test_bad_json_columns_are_rejected_not_raised():
    with pytest.raises(Reject) as e:
        convert_row({"uuid": "u", "messages": "[{"}, "Kimi-K2")
    assert e.value.reason == "bad_json"
    with pytest.raises(Reject) as e:
        convert_row({"uuid": "u"}, "Kimi-K2")
    assert e.value.reason == "bad_row"


def test_meta_and_identity():
    msgs = [USER, {"role": "assistant", "content": "I cannot help with that."}]
    rec = convert_row(row(msgs, subset="irrelevant"), "OSS", meta={"question_score": 4.5})
    assert (
        rec["id"] == "toucan/OSS/u-1"
        and rec["source"] == "toucan"
        and rec["category"] == "irrelevant"
    )
    assert rec["meta"] == {
        "config": "OSS",
        "uuid": "u-1",
        "subset": "irrelevant",
        "question": "q",
        "target_tools": "get_forecast",
        "question_score": 4.5,
    }


def test_escaped_template_tokens_are_caught():
    # "<|im_user|>" written with a \u003c escape: invisible to a raw-text scan, still a leak.
    raw = '[{"role": "user", "content": "\\u003c|im_user|>hi"}, {"role": "assistant", "content": "x"}]'
    with pytest.raises(Reject) as e:
        convert_row({"uuid": "u", "messages": raw, "available_tools": "[]"}, "Kimi-K2")
    assert e.value.reason == "template_leak"


def test_html_safe_escaped_tokens_are_caught_from_bytes():
    # A serialiser that writes every "<" as \u003c (HTML-safe JSON) hides markers from raw counts.
    raw = (
        b'[{"role": "user", "content": "hi \\u003ctools>"}, {"role": "assistant", "content": "x"}]'
    )
    with pytest.raises(Reject) as e:
        convert_row({"uuid": "u", "messages": raw, "available_tools": b"[]"}, "Kimi-K2")
    assert e.value.reason == "template_leak"
