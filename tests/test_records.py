"""The record validator's error for each broken field, and the dedup hash's definition."""

from __future__ import annotations

import copy
import hashlib

import orjson
import pytest

from ajtrain.records import RecordError, content_hash, validate_record

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
GOOD = {"id": "r", "source": "s", "category": "", "tools": "[]", "meta": {}, "messages": [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    {"role": "assistant", "content": "done", "weight": 0},
]}  # fmt: skip
DROP = object()  # the key is left out
TC = ("messages", 1, "tool_calls", 0)
UNANSWERED = ("messages[2].tool_call_id", "'c1' answers no earlier tool call")

# (where to break the record, the value put there, the field and problem named)
CASES = [
    (("id",), DROP, ("id", "expected a string, got NoneType")),
    (("id",), "", ("id", "must not be empty")),
    (("source",), 3, ("source", "expected a string, got int")),
    (("category",), None, ("category", "expected a string, got NoneType")),
    (("tools",), [], ("tools", "expected a string, got list")),
    (("meta",), [], ("meta", "expected an object")),
    (("messages",), [], ("messages", "expected a non-empty list of messages")),
    (("messages",), {}, ("messages", "expected a non-empty list of messages")),
    (("messages", 0), "x", ("messages[0]", "a message must be an object")),
    (("messages", 0, "role"), "bot", ("messages[0].role", "unknown role 'bot'; expected one of "
                                      "('system', 'user', 'assistant', 'tool')")),
    (("messages", 0, "content"), 5, ("messages[0].content", "expected a string")),
    (("messages", 1, "tool_calls"), {}, UNANSWERED),
    (("messages", 1, "tool_calls"), None, UNANSWERED),
    (("messages", 1, "tool_calls"), "x", ("messages[1].tool_calls", "expected a list")),
    (TC, "c", ("messages[1].tool_calls[0]", "a tool call must be an object")),
    ((*TC, "id"), "", ("messages[1].tool_calls[0].id", "must not be empty")),
    ((*TC, "id"), DROP, ("messages[1].tool_calls[0].id", "expected a string, got NoneType")),
    ((*TC, "function"), None, ("messages[1].tool_calls[0].function",
                               "expected an object {name, arguments}")),
    ((*TC, "function", "name"), "", ("messages[1].tool_calls[0].function.name",
                                     "must not be empty")),
    ((*TC, "function", "arguments"), {}, ("messages[1].tool_calls[0].function.arguments",
                                          "expected a string, got dict")),
    (("messages", 1, "weight"), True, ("messages[1].weight", "expected 0 or 1")),
    (("messages", 1, "weight"), 2, ("messages[1].weight", "expected 0 or 1")),
    (("messages", 2, "tool_call_id"), 7, ("messages[2].tool_call_id",
                                          "expected a string, got int")),
    (("messages", 2, "tool_call_id"), "c9", ("messages[2].tool_call_id",
                                             "'c9' answers no earlier tool call")),
    (("messages", 2, "tool_call_id"), "", ("messages[2].tool_call_id",
                                           "'' answers no earlier tool call")),
]  # fmt: skip


@pytest.mark.parametrize("path, value, expected", CASES)
def test_a_broken_field_is_named_with_its_problem(path, value, expected):
    rec = copy.deepcopy(GOOD)
    obj = rec
    for key in path[:-1]:
        obj = obj[key]
    if value is DROP:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
    with pytest.raises(RecordError) as err:
        validate_record(rec, "f.jsonl:7")
    assert (err.value.where, err.value.field, err.value.problem) == ("f.jsonl:7", *expected)


def test_a_good_record_passes_as_it_is():
    assert validate_record(GOOD) is GOOD


def test_content_hash_is_blake2b_of_tools_then_each_message_with_sorted_keys():
    h = hashlib.blake2b(digest_size=16)  # the definition the mix's manifest states
    h.update(GOOD["tools"].encode())
    for m in GOOD["messages"]:
        h.update(orjson.dumps(m, option=orjson.OPT_SORT_KEYS))
    assert content_hash(GOOD) == h.hexdigest()
    assert content_hash({**GOOD, "id": "other", "meta": {"x": 1}}) == h.hexdigest()
