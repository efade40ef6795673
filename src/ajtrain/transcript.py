"""Reading a conversation (a record's ``messages``): its tool calls and results, the machines its
read tools showed, the names a message mentions, and what a user's yes agreed to.

One floor above :mod:`ajtrain.records` and below every stage: the checker, the guard, the
simulated user, the scripted policies, the eval parsers and the fleet all read transcripts with
these functions (docs/TRAINING_ARCHITECTURE.md, "Reading a transcript"). Nothing here knows a
tool by name: the caller says which tools are read tools.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from .records import Message, ToolCall

# --- tool calls -------------------------------------------------------------------------------


def tool_call(
    name: str, args: dict[str, Any] | str | None = None, id: str | None = None
) -> dict[str, Any]:
    """A tool call in record form: ``args`` as a dict (serialised) or as JSON text (kept as it
    is; None is ``"{}"``). Without ``id`` the call has none (an episode assigns it)."""
    text = args if isinstance(args, str) else orjson.dumps(args or {}).decode()
    fn = {"name": name, "arguments": text}
    if id is None:
        return {"type": "function", "function": fn}
    return {"id": id, "type": "function", "function": fn}


def load_args(text: str | None) -> Any:
    """A call's arguments text as JSON (empty text is ``{}``); raises ``orjson.JSONDecodeError``
    (a ``ValueError``) when the text is not JSON, or not text at all. Any JSON value comes back,
    not only objects."""
    return orjson.loads(text or "{}")


def parse_args(arguments: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Arguments as a dict: a dict as it is, JSON text decoded; None when they are not a JSON
    object (invalid JSON, a list, a number...)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        args = load_args(arguments)
    except ValueError:
        return None
    return args if isinstance(args, dict) else None


def call_args(call: dict) -> dict[str, Any] | None:
    """A record-form call's arguments as a dict; None when its ``arguments`` text is not a JSON
    object (a malformed call). Arguments that are not text are malformed in a record too."""
    arguments = call.get("function", {}).get("arguments")
    return None if isinstance(arguments, dict) else parse_args(arguments)


def calls_in(msg: Message) -> list[ToolCall]:
    """The tool calls of a message ([] for any message but an assistant's)."""
    return list(msg.get("tool_calls") or []) if msg.get("role") == "assistant" else []


def executed_view(messages: list[Message], blocked: list[dict]) -> list[Message]:
    """The transcript as the fleet saw it: the calls a guard refused (``{"call": ...}`` entries,
    as ``Episode.blocked`` keeps them; never run) are taken out with their results, and an
    assistant message left with neither calls nor text goes too."""
    ids = {b["call"].get("id") for b in blocked}
    if not ids:
        return messages
    out = []
    for m in messages:
        if m.get("role") == "tool" and m.get("tool_call_id") in ids:
            continue
        if m.get("tool_calls"):
            kept = [c for c in m["tool_calls"] if c.get("id") not in ids]
            if not kept and not m.get("content"):
                continue
            m = (
                {**m, "tool_calls": kept}
                if kept
                else {k: v for k, v in m.items() if k != "tool_calls"}  # type: ignore[misc]
            )
        out.append(m)
    return out


# --- machines shown ---------------------------------------------------------------------------


def _machines_in(text: str) -> list[dict[str, Any]]:
    """The objects with a string ``name`` in a JSON tool result (an object or a list of them)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    items = data if isinstance(data, list) else [data]
    return [m for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)]


def shown_in(msg: Message, read_tools: Iterable[str]) -> list[dict[str, Any]]:
    """The machines one tool-result message shows: [] unless it is the result of one of
    ``read_tools`` whose text is a JSON object with a string ``name``, or a list of them."""
    if msg.get("role") != "tool" or msg.get("name") not in read_tools:
        return []
    return _machines_in(msg.get("content") or "")


def shown_machines(messages: list[Message], read_tools: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Name → the latest record a read-tool result showed for it, in first-seen order."""
    read_tools = set(read_tools)
    shown: dict[str, dict[str, Any]] = {}
    for msg in messages:
        for m in shown_in(msg, read_tools):
            shown[m["name"]] = m
    return shown


# --- names and yes ----------------------------------------------------------------------------

# What a machine name is, in one place: ASCII letters and digits, with '.', '_' or '-' between
# them. The fleet loader refuses anything else (ajtrain.fleet.machines), and messages are read
# for names with the same pattern. Non-ASCII look-alikes (Cyrillic 'о', U+2010 hyphen, a
# zero-width space, 'ℌ') would make two names a person reads as one differ to the code, so they
# are never names.
NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_TOKEN = re.compile(NAME_PATTERN)
_AFFIRMATIVE = {
    "yes", "yep", "yeah", "y", "yup", "confirmed", "confirm", "correct", "sure", "ok", "okay",
    "affirmative", "absolutely", "approved", "definitely", "right", "indeed", "aye",
}  # fmt: skip
# Words of a message that asks the user to choose ("web1 and web2 match: which one?"): such a
# message proposes nothing, so a yes to it confirms nothing. Matched against whole tokens of
# NAME_PATTERN, so the "or" inside a machine name ("or-musazot-01") is not one.
_CHOICE_WORDS = re.compile(r"(?:^| )(?:which|or|either|one of)(?= |$)")


def mentioned_names(text: str, names: Iterable[str]) -> list[str]:
    """Names (of ``names``) that appear in ``text`` as whole tokens, exactly (``domain02`` is not
    ``domain020`` nor ``Domain02``), in order, without repeats."""
    known = set(names)
    return list(dict.fromkeys(tok for tok in _TOKEN.findall(text or "") if tok in known))


def proposed_names(text: str, names: Iterable[str]) -> list[str]:
    """The machines a message proposes to act on, for a yes to confirm: the names it mentions,
    unless it asks the user to choose among them.

    "Shut down domain02 and web7? Please confirm." proposes both; "domain02 and ians-r16 both
    match: which one?" proposes nothing (a yes to it says nothing about either machine).
    """
    words = " ".join(_TOKEN.findall(text or "")).lower()
    return [] if _CHOICE_WORDS.search(words) else mentioned_names(text, names)


def is_affirmative(text: str) -> bool:
    """Whether a user reply says yes (its first word is a yes-word)."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return bool(words) and words[0] in _AFFIRMATIVE


def yes_to(
    messages: list[Message], i: int, names: Iterable[str], read=mentioned_names
) -> list[str]:
    """The machines the user's message ``messages[i]`` says yes to: [] when it is not a yes;
    else the names the last assistant message before it offers, as ``read`` finds them
    (:func:`mentioned_names`: every name it mentions; :func:`proposed_names`: none when it asks
    the user to choose)."""
    if not is_affirmative(messages[i].get("content") or ""):
        return []
    asked = next((m for m in reversed(messages[:i]) if m.get("role") == "assistant"), None)
    return read(asked.get("content") or "", names) if asked is not None else []
