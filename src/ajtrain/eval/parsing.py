"""Model output → an assistant message with tool calls, for the two formats the eval meets:
Hermes text (``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, what the tiny template
and Qwen-family models emit) and an endpoint's native ``tool_calls``.

A malformed call is an error of the model, never a crash of the harness: the parser returns what
it could read plus a list of error strings, and the runner counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..records import Message
from ..transcript import load_args, tool_call

_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


@dataclass
class Parsed:
    """One assistant turn as read from the model: the message, and what was wrong with it."""

    message: Message
    errors: list[str] = field(default_factory=list)
    raw: str = ""
    # why generation stopped: "eos", "length" (max_new_tokens hit), "overflow" (prompt too long
    # for the model), "error" (the endpoint refused the request); "" for scripted policies
    stop: str = ""


def _arguments(value: Any) -> tuple[str | None, str | None]:
    """(arguments as a JSON object string, error). Strings holding JSON are accepted too."""
    if value is None:
        return "{}", None
    if isinstance(value, str):
        try:
            value = load_args(value)
        except ValueError:
            return None, "arguments are not valid JSON"
    if not isinstance(value, dict):
        return None, f"arguments are a {type(value).__name__}, not a JSON object"
    return orjson.dumps(value).decode(), None


def parse_hermes(text: str) -> Parsed:
    """Split generated text into content, optional ``<think>`` reasoning and tool calls.

    A block that is not JSON, lacks a string ``name``, has non-object arguments, or is cut off
    before ``</tool_call>`` is dropped from the calls and reported in ``errors``.
    """
    raw = text
    msg: Message = {"role": "assistant", "content": ""}
    think = _THINK.match(text)
    if think:
        msg["reasoning_content"] = think.group(1).strip()
        text = text[think.end() :]
    first = text.find("<tool_call>")
    content = text if first < 0 else text[:first]
    msg["content"] = content.strip()
    calls, errors = [], []
    for i, m in enumerate(_CALL.finditer(text) if first >= 0 else ()):
        where = f"tool call {i + 1}"
        if not m.group(0).endswith("</tool_call>"):
            errors.append(f"{where}: no closing </tool_call> (output cut off?)")
            continue
        try:
            obj = orjson.loads(m.group(1).strip())
        except orjson.JSONDecodeError:
            errors.append(f"{where}: not valid JSON: {m.group(1).strip()[:80]!r}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"]:
            errors.append(f"{where}: no string 'name' field")
            continue
        args, problem = _arguments(obj.get("arguments", obj.get("parameters")))
        if problem:
            errors.append(f"{where} ({obj['name']}): {problem}")
            continue
        calls.append(tool_call(obj["name"], args))
    if calls:
        msg["tool_calls"] = calls
    elif errors:  # nothing usable: the user sees the raw text, as they would in a chat UI
        msg["content"] = text.strip()
    return Parsed(msg, errors, raw)


def parse_openai(message: dict[str, Any]) -> Parsed:
    """An endpoint's ``choices[0].message``: native ``tool_calls`` (arguments as a JSON string
    or, from some servers, an object); Hermes text in ``content`` is read as a fallback."""
    content = message.get("content") or ""
    native = message.get("tool_calls") or []
    if not native and "<tool_call>" in content:
        parsed = parse_hermes(content)
    else:
        parsed = Parsed({"role": "assistant", "content": content.strip()}, [], content)
        calls = []
        for i, c in enumerate(native):
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                parsed.errors.append(f"tool call {i + 1}: no function name")
                continue
            args, problem = _arguments(fn.get("arguments"))
            if problem:  # the name is known: run it, so the model reads the fleet's error
                parsed.errors.append(f"tool call {i + 1} ({fn['name']}): {problem}")
                raw_args = fn.get("arguments")
                args = raw_args if isinstance(raw_args, str) else orjson.dumps(raw_args).decode()
            call = tool_call(fn["name"], args)
            if c.get("id"):
                call["id"] = str(c["id"])
            calls.append(call)
        if calls:
            parsed.message["tool_calls"] = calls
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning and isinstance(reasoning, str):
        parsed.message["reasoning_content"] = reasoning
    return parsed
