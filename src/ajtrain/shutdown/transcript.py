"""Reading facts back out of a transcript (list of messages): what was listed, what was said."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..fleet import READ_TOOLS
from ..records import Message


def tool_call_args(call: dict) -> dict[str, Any]:
    """Parsed arguments, or {} when they are not a JSON object (a malformed call)."""
    try:
        args = orjson.loads(call.get("function", {}).get("arguments") or "{}")
    except orjson.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


def records_in_result(text: str) -> list[dict[str, Any]]:
    """The objects with a string ``name`` in a JSON tool result (an object or a list of them)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    items = data if isinstance(data, list) else [data]
    return [m for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)]


def read_result_machines(
    msg: Message, read_tools: Iterable[str] = READ_TOOLS
) -> list[dict[str, Any]]:
    """Machines shown by a read-tool result message ([] for errors and other tools)."""
    if msg.get("role") != "tool" or msg.get("name") not in read_tools:
        return []
    return records_in_result(msg.get("content") or "")


def seen_machines(
    messages: list[Message], read_tools: Iterable[str] = READ_TOOLS
) -> dict[str, dict[str, Any]]:
    """Every machine shown by a read tool so far, latest view wins (first-seen order)."""
    read_tools = set(read_tools)
    seen: dict[str, dict[str, Any]] = {}
    for msg in messages:
        for m in read_result_machines(msg, read_tools):
            seen[m["name"]] = m
    return seen


def last_text(messages: list[Message], role: str, before: int | None = None) -> str:
    """Content of the last text message of ``role`` (assistant: one without tool calls)."""
    end = len(messages) if before is None else before
    for msg in reversed(messages[:end]):
        if msg.get("role") == role and not msg.get("tool_calls"):
            return msg.get("content") or ""
    return ""


def calls_in(msg: Message) -> list[dict]:
    return list(msg.get("tool_calls") or []) if msg.get("role") == "assistant" else []
