"""One Toucan-1.5M row (a dict of the released string columns) -> one record.

The record and the loader: docs/TRAINING_ARCHITECTURE.md, "One record format between every
stage" and "Toucan (load)".

This is the hot path: millions of rows, so it stays on dicts and orjson. It is exact about JSON
text: ``available_tools`` and every call's ``arguments`` are passed through as the ORIGINAL strings
and only rewritten where they must be normalised (an empty ``arguments`` becomes ``"{}"``; a tool
the row calls but ``available_tools`` lacks is appended from the system message's declaration).

The quirks handled, each covered by a fixture and a test:

* tool results are ``role: "function"`` (SFT: ``tool_response``) -> ``role: "tool"`` with the
  ``tool_call_id`` of the call it answers (matched by name, in order);
* calls are legacy ``function_call {name, arguments}`` (SFT: a ``tool_call`` message whose content
  is ``str(dict)``, a Python literal) -> ``tool_calls`` on the assistant message;
* one assistant emission split over consecutive messages (text, reasoning, K call fragments = K
  parallel calls) is merged into one assistant message, calls kept in order;
* OSS ``reasoning_content`` is kept; an OSS producer ``call_id`` is kept as the call id;
* system messages that only carry a tool template (Kimi ``<|im_system|>tool_declare...`` or the
  Nous ``<tools>`` XML block) are removed: tools come from ``available_tools``.

Anything else is a :class:`Reject` with a stable ``reason`` (counted in the summary) and a
``detail`` naming the message index and field.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import orjson

from ..records import Record
from ..transcript import load_args, tool_call

SOURCE = "toucan"
KIMI_PREFIX = "<|im_system|>tool_declare<|im_middle|>"
KIMI_SUFFIX = "<|im_end|>"
NOUS_OPEN, NOUS_CLOSE = "<tools>", "</tools>"
# Text that must never reach a training record (template tokens of the teacher models).
LEAK_MARKERS = ("<|im_", "<tools>", "tool_declare")
# The Nous template's fixed text around the <tools> block (fcanalysis documents it verbatim).
NOUS_HEAD = "# Tools\n\nYou may call one or more functions to assist with the user query."
NOUS_TAIL_END = "</tool_call>"

RESULT_ROLES = ("function", "tool", "tool_response")
_TOOL_NAME = re.compile(r'"function": \{"name": "([^"\\]*)", ')


class Reject(Exception):
    """A row the converter will not turn into a record; ``reason`` is a stable slug."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


# --- system-message tool templates ---------------------------------------------------------


def strip_tool_template(content: str) -> tuple[str, str | None]:
    """Split a system message into (text left over, declared tools as JSON text or None).

    Kimi's form is the whole message; the Nous form is a ``# Tools`` block that may follow other
    system text. The declared tools are returned unparsed: they are only needed (and parsed) when
    a call targets a tool missing from ``available_tools``.
    """
    if content.startswith(KIMI_PREFIX):
        end = content.find(KIMI_SUFFIX, len(KIMI_PREFIX))
        if end < 0:
            return content, None  # malformed: left in place, the leak check rejects it
        declared = content[len(KIMI_PREFIX) : end]
        return content[end + len(KIMI_SUFFIX) :].strip(), declared
    # The block is "<tools>\n" + one JSON tool per line + "\n</tools>" (the template's prose
    # also says "within <tools></tools> XML tags", which is not the block).
    start = content.find(NOUS_OPEN + "\n")
    if start < 0:
        return content, None
    end = content.find(NOUS_CLOSE, start)
    if end < 0:
        return content, None
    lines = content[start + len(NOUS_OPEN) : end].strip().splitlines()
    declared = "[" + ", ".join(line for line in lines if line.strip()) + "]"
    head = content.find(NOUS_HEAD)
    cut_from = head if 0 <= head < start else start
    tail = content.rfind(NOUS_TAIL_END)
    cut_to = tail + len(NOUS_TAIL_END) if tail > end else end + len(NOUS_CLOSE)
    rest = (content[:cut_from] + content[cut_to:]).strip()
    return rest, declared


def _declared_tools(declared: list[str], where: str) -> dict[str, dict]:
    tools: dict[str, dict] = {}
    for text in declared:
        try:
            for tool in orjson.loads(text):
                fn = tool.get("function", tool) if isinstance(tool, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    tools.setdefault(fn["name"], {"type": "function", "function": fn})
        except (orjson.JSONDecodeError, TypeError, AttributeError) as e:
            raise Reject(
                "bad_system_tools", f"{where}: declared tools are not valid JSON ({e})"
            ) from None
    return tools


# --- calls ----------------------------------------------------------------------------------


def _arguments(args: Any, i: int, name: str) -> str:
    """The call's arguments as JSON text: the original string when it is a valid JSON object."""
    if isinstance(args, str):
        if not args.strip():
            return "{}"  # a no-argument call; normalised so every consumer can parse it
        try:
            parsed = load_args(args)
        except ValueError as e:
            raise Reject("invalid_arguments", f"messages[{i}]: call {name!r}: {e}") from None
        if not isinstance(parsed, dict):
            raise Reject("invalid_arguments", f"messages[{i}]: call {name!r}: not a JSON object")
        return args
    where = f"messages[{i}]"
    if args is None:
        return "{}"
    if isinstance(args, dict):  # already parsed upstream: must be serialised
        return orjson.dumps(args).decode()
    raise Reject("invalid_arguments", f"{where}: call {name!r}: {type(args).__name__}")


def _sft_call(content: Any, where: str) -> dict:
    """SFT ``tool_call`` content: ``str(function_call)`` (a Python literal), or JSON."""
    if isinstance(content, dict):
        return content
    if not isinstance(content, str):
        raise Reject("bad_call", f"{where}.content: expected a string")
    try:
        call = orjson.loads(content)
    except orjson.JSONDecodeError:
        try:
            call = ast.literal_eval(content)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise Reject("bad_call", f"{where}.content: neither JSON nor a Python dict") from None
    if not isinstance(call, dict):
        raise Reject("bad_call", f"{where}.content: expected an object {{name, arguments}}")
    return call


# --- the row ---------------------------------------------------------------------------------


class _Builder:
    """Walks the source messages once, merging assistant fragments and pairing results."""

    __slots__ = (
        "out",
        "emission",
        "texts",
        "reasoning",
        "pending",
        "ids",
        "declared",
        "calls",
        "template_lt",
        "template_declare",
        "users",
        "emissions",
    )

    def __init__(self) -> None:
        self.out: list[dict] = []
        self.emission: dict | None = None
        self.texts: list[str] = []
        self.reasoning: list[str] = []
        self.pending: list[list[str]] = []  # [call id, tool name] awaiting a result, in order
        self.ids: set[str] = set()
        self.declared: list[str] = []
        self.calls: list[str] = []  # every called tool name, for the tools check
        # "<" and "tool_declare" inside the removed system templates, for the leak pre-check
        self.template_lt = 0
        self.template_declare = 0
        self.users = self.emissions = 0  # counted here: scanning `out` afterwards costs more

    def open(self) -> dict:
        if self.emission is None:
            self.emission = {"role": "assistant", "content": ""}
            self.out.append(self.emission)
            self.emissions += 1
            self.pending = []  # a new emission: earlier unanswered calls stay unanswered
        return self.emission

    def close(self) -> None:
        msg = self.emission
        if msg is None:
            return
        if self.texts:
            msg["content"] = self.texts[0] if len(self.texts) == 1 else "\n\n".join(self.texts)
        if self.reasoning:
            msg["reasoning_content"] = "\n\n".join(self.reasoning)
        self.emission, self.texts, self.reasoning = None, [], []

    def call(self, name: Any, args: Any, call_id: Any, i: int) -> None:
        if not isinstance(name, str) or not name:
            raise Reject("bad_call", f"messages[{i}]: call without a tool name")
        msg = self.open()
        if not isinstance(call_id, str) or not call_id or call_id in self.ids:
            call_id = f"call_{len(self.ids)}"
            while call_id in self.ids:
                call_id += "_"
        self.ids.add(call_id)
        call = tool_call(name, _arguments(args, i, name), call_id)
        msg.setdefault("tool_calls", []).append(call)
        self.pending.append([call_id, name])
        self.calls.append(name)

    def result(self, name: Any, content: Any, i: int) -> None:
        if self.emission is not None:
            self.close()
        # The first pending call of that name (positional when results come in call order);
        # SFT results carry no name and answer the oldest pending call.
        pending = self.pending
        if pending and (not name or pending[0][1] == name):
            k: int | None = 0
        else:
            k = next((k for k, p in enumerate(pending) if not name or name == p[1]), None)
        if k is None:
            raise Reject("orphan_tool_result", f"messages[{i}]: result of {name!r} answers no call")
        call_id, call_name = pending.pop(k)
        if not isinstance(content, str):
            content = "" if content is None else orjson.dumps(content).decode()
        self.out.append(
            {"role": "tool", "tool_call_id": call_id, "name": call_name, "content": content}
        )


def _walk(messages: list, b: _Builder) -> None:
    # Error texts are formatted only when raised: this loop runs for every message of every row.
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise Reject("bad_message", f"messages[{i}]: expected an object")
        role = m.get("role")
        content = m.get("content")
        if role == "assistant":
            if b.emission is None:
                b.open()
            if content:
                if not isinstance(content, str):
                    raise Reject("bad_message", f"messages[{i}].content: expected a string")
                b.texts.append(content)
            if m.get("reasoning_content"):
                b.reasoning.append(m["reasoning_content"])
            fc = m.get("function_call")
            if fc:
                if not isinstance(fc, dict):
                    raise Reject("bad_call", f"messages[{i}].function_call: expected an object")
                b.call(fc.get("name"), fc.get("arguments"), fc.get("call_id") or fc.get("id"), i)
            if "tool_calls" in m:
                _tool_calls(m["tool_calls"], b, i)
        elif role in RESULT_ROLES:
            b.result(m.get("name"), content, i)
        elif role == "tool_call":
            call = _sft_call(content, f"messages[{i}]")
            b.call(call.get("name"), call.get("arguments"), call.get("id"), i)
        elif role == "user":
            b.close()
            if not isinstance(content, str):
                raise Reject("bad_message", f"messages[{i}].content: expected a string")
            b.out.append({"role": "user", "content": content})
            b.users += 1
        elif role == "system":
            b.close()
            _system(content if isinstance(content, str) else "", b)
        else:
            raise Reject("unknown_role", f"messages[{i}].role: {role!r}")
    b.close()


def _tool_calls(calls: Any, b: _Builder, i: int) -> None:
    """Calls already in OpenAI ``tool_calls`` form (not in the release; accepted all the same)."""
    for j, tc in enumerate(calls or ()):
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict):
            raise Reject("bad_call", f"messages[{i}].tool_calls[{j}]: expected {{function}}")
        b.call(fn.get("name"), fn.get("arguments"), tc.get("id"), i)


def _system(content: str, b: _Builder) -> None:
    rest, declared = strip_tool_template(content)
    if declared is not None:
        b.declared.append(declared)
        b.template_lt += content.count("<") - rest.count("<")
        b.template_declare += content.count("tool_declare") - rest.count("tool_declare")
    if rest:
        b.out.append({"role": "system", "content": rest})


def _tools_text(row: dict, b: _Builder) -> str:
    """``available_tools`` verbatim, plus declared definitions of tools it lacks but rows call."""
    raw = row.get("available_tools")
    if raw is None:
        raw = row.get("tools")  # the SFT config's column
    if not raw:  # no column, or empty: a row that calls tools must still declare them somewhere
        raw = "[]"
    if isinstance(raw, bytes):  # parquet mirrors hand JSON columns over as UTF-8 bytes
        raw = raw.decode()
    elif not isinstance(raw, str):
        raise Reject("bad_tools", "available_tools: expected a JSON string")
    text: str = raw
    if not b.calls:
        return text
    called = dict.fromkeys(b.calls)
    # Fast path: the release writes each tool as `"function": {"name": "<name>", ...` (json.dumps
    # default separators). Outside JSON strings that text can only be a tool entry, and inside
    # one its quotes would be escaped; so the names it captures are declared tool names, found
    # without parsing thousands of schemas. Anything unusual falls through to the full parse.
    declared = set(_TOOL_NAME.findall(text))
    if declared.issuperset(called):
        return text
    try:
        tools = orjson.loads(text)
        names = {t["function"]["name"] for t in tools}
    except (orjson.JSONDecodeError, TypeError, KeyError) as e:
        raise Reject("bad_tools", f"available_tools: {e}") from None
    missing = [n for n in called if n not in names]
    if not missing:
        return text
    declared = _declared_tools(b.declared, "system message")
    unknown = [n for n in missing if n not in declared]
    if unknown:
        raise Reject("unknown_tool", f"called but declared nowhere: {', '.join(unknown)}")
    return orjson.dumps(tools + [declared[n] for n in missing]).decode()


def _may_leak(text: str | bytes, b: _Builder) -> bool:
    """False when the raw messages text proves no kept message holds a template marker.

    Every marker contains "<" or is "tool_declare": if the raw text has no more of either than
    the removed templates held, no kept text can contain one. Counting "<" is a fast byte count.
    Raw counts equal decoded counts unless "<" is written as the escape "\\u003c" (HTML-safe
    serialisers do; json.dumps, which wrote the release, never does). A serialiser escapes every
    "<" or none, so such text holds no raw "<" at all: only then is the escape looked for.
    """
    if isinstance(text, bytes):
        lt = text.count(b"<")
        return (
            lt != b.template_lt
            or text.count(b"tool_declare") != b.template_declare
            or (lt == 0 and b"\\u003" in text)
        )
    lt = text.count("<")
    return (
        lt != b.template_lt
        or text.count("tool_declare") != b.template_declare
        or (lt == 0 and "\\u003" in text)
    )


def _check_leaks(messages: list[dict]) -> None:
    for i, m in enumerate(messages):
        for key in ("content", "reasoning_content"):
            text = m.get(key)
            if text and any(marker in text for marker in LEAK_MARKERS):
                raise Reject("template_leak", f"messages[{i}].{key} holds a template token")


def convert_row(
    row: dict, config: str, record_id: str | None = None, meta: dict | None = None
) -> Record:
    """Convert one raw row to a record, or raise :class:`Reject`.

    ``meta`` (e.g. quality scores already parsed by the filters) is stored as the record's meta,
    after the fields every Toucan record carries (config, uuid, subset, question, target tools).
    """
    text = row.get("messages")
    if not isinstance(text, (str, bytes)):
        raise Reject("bad_row", "messages: missing or not a string")
    try:
        messages = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise Reject("bad_json", f"messages: {e}") from None
    if not isinstance(messages, list):
        raise Reject("bad_json", "messages: expected a JSON list")
    b = _Builder()
    _walk(messages, b)
    out = b.out
    if not b.users:
        raise Reject("no_user", "no user message")
    if not b.emissions:
        raise Reject("no_assistant", "no assistant message")
    if _may_leak(text, b):  # a cheap proof on the raw text first; the full scan when it fails
        _check_leaks(out)
    uuid = row.get("uuid") or ""
    subset = row.get("subset_name") or ""
    info = {
        "config": config,
        "uuid": uuid,
        "subset": subset,
        "question": row.get("question") or "",
        "target_tools": row.get("target_tools") or "",
    }
    if meta:
        info.update(meta)
    return {
        "id": record_id or f"{SOURCE}/{config}/{uuid}",
        "source": SOURCE,
        "category": subset,
        "tools": _tools_text(row, b),
        "messages": out,
        "meta": info,
    }
