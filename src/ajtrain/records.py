"""The record: one JSON object per line, OpenAI chat format, shared by every stage.

On disk ``tools`` and every tool call's ``arguments`` are JSON *strings*: Toucan has thousands
of tool schemas, and as Arrow structs they would unify into one null-padded schema. Parse them
only where a template needs dicts (:func:`parse_tools`; a call's arguments:
:func:`ajtrain.transcript.load_args`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import orjson

ROLES = ("system", "user", "assistant", "tool")


class ToolCall(TypedDict):
    id: str
    type: str
    function: dict[str, str]  # {"name": str, "arguments": JSON string}


class Message(TypedDict, total=False):
    role: str
    content: str
    tool_calls: list[ToolCall]
    tool_call_id: str
    name: str
    reasoning_content: str
    weight: int  # assistant only: 0 = context, not trained on (OpenAI fine-tuning's field)


class Record(TypedDict):
    id: str
    source: str
    category: str
    tools: str  # JSON string: a list of {"type": "function", "function": {...}}
    messages: list[Message]
    meta: dict[str, Any]


class RecordError(ValueError):
    """A record that breaks the format; the message names where (file:line) and the field."""

    def __init__(self, where: str, field: str, problem: str):
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: field '{field}': {problem}")


def _require_str(obj: dict, key: str, where: str, field: str, *, empty_ok: bool = True) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise RecordError(where, field, f"expected a string, got {type(value).__name__}")
    if not empty_ok and not value:
        raise RecordError(where, field, "must not be empty")
    return value


def _check_tool_call(call: Any, where: str, field: str) -> str:
    if not isinstance(call, dict):
        raise RecordError(where, field, "a tool call must be an object")
    call_id = _require_str(call, "id", where, f"{field}.id", empty_ok=False)
    fn = call.get("function")
    if not isinstance(fn, dict):
        raise RecordError(where, f"{field}.function", "expected an object {name, arguments}")
    _require_str(fn, "name", where, f"{field}.function.name", empty_ok=False)
    _require_str(fn, "arguments", where, f"{field}.function.arguments")
    return call_id


def validate_record(obj: Any, where: str = "<record>") -> Record:
    """Check ``obj`` against the record format and return it typed; raise :class:`RecordError`.

    Structure is checked (roles, tool-call ids, every tool result answering an earlier call);
    the JSON strings ``tools``/``arguments`` are not parsed here, to keep the hot path cheap.
    """
    # The mix checks every line of millions: each check is inline, and the helpers that name
    # the field and the problem run only for a value that fails it.
    if not isinstance(obj, dict):
        raise RecordError(where, "<root>", f"expected a JSON object, got {type(obj).__name__}")
    for key, empty_ok in _RECORD_STRINGS:
        value = obj.get(key)
        if not isinstance(value, str) or not (value or empty_ok):
            _require_str(obj, key, where, key, empty_ok=empty_ok)
    if not isinstance(obj.get("meta", {}), dict):
        raise RecordError(where, "meta", "expected an object")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RecordError(where, "messages", "expected a non-empty list of messages")
    open_calls: set[str] = set()
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise RecordError(where, f"messages[{i}]", "a message must be an object")
        role = msg.get("role")
        if role not in ROLES:
            raise RecordError(
                where, f"messages[{i}].role", f"unknown role {role!r}; expected one of {ROLES}"
            )
        content = msg.get("content", "")
        if content is not None and not isinstance(content, str):
            raise RecordError(where, f"messages[{i}].content", "expected a string")
        if role == "assistant":
            calls = msg.get("tool_calls")
            if calls:
                if not isinstance(calls, list):
                    raise RecordError(where, f"messages[{i}].tool_calls", "expected a list")
                for j, call in enumerate(calls):
                    open_calls.add(_tool_call_id(call, where, i, j))
            weight = msg.get("weight", 1)
            if weight not in (0, 1) or isinstance(weight, bool):
                raise RecordError(where, f"messages[{i}].weight", "expected 0 or 1")
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str):
                _require_str(msg, "tool_call_id", where, f"messages[{i}].tool_call_id")
            if call_id not in open_calls:
                raise RecordError(
                    where,
                    f"messages[{i}].tool_call_id",
                    f"{call_id!r} answers no earlier tool call",
                )
    return obj  # type: ignore[return-value]


_RECORD_STRINGS = (("id", False), ("source", False), ("category", True), ("tools", True))


def _tool_call_id(call: Any, where: str, i: int, j: int) -> str:
    """A well-formed call's id; else :func:`_check_tool_call` names what is wrong."""
    fn = call.get("function") if isinstance(call, dict) else None
    if isinstance(fn, dict):
        call_id, name = call.get("id"), fn.get("name")
        if (
            isinstance(call_id, str) and call_id and isinstance(name, str) and name
            and isinstance(fn.get("arguments"), str)
        ):  # fmt: skip
            return call_id
    return _check_tool_call(call, where, f"messages[{i}].tool_calls[{j}]")


def make_record(
    id: str,
    source: str,
    category: str,
    tools: list[dict] | str,
    messages: list[Message],
    meta: dict[str, Any] | None = None,
) -> Record:
    """Build and validate a record; ``tools`` may be given as dicts and is stored as JSON text."""
    tools_text = tools if isinstance(tools, str) else dumps(tools)
    rec = {
        "id": id,
        "source": source,
        "category": category,
        "tools": tools_text,
        "messages": messages,
        "meta": meta or {},
    }
    return validate_record(rec, where=f"record {id}")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def parse_tools(record: Record) -> list[dict]:
    """The record's tool definitions as dicts (OpenAI ``{"type": "function", ...}`` form)."""
    return orjson.loads(record["tools"]) if record["tools"] else []


def content_hash(record: Record) -> str:
    """Hash of what a model sees (tools + messages), ignoring id/source/meta; used for dedup."""
    # The same bytes as one update per message, hashed in one call (the mix hashes millions).
    parts = [record["tools"].encode()]
    parts += [orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in record["messages"]]
    return hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()


# --- files -------------------------------------------------------------------------------


_UMASK = os.umask(0)
os.umask(_UMASK)


def usual_mode(path: str | os.PathLike) -> None:
    """Give an output the mode a plain ``open``/``mkdir`` would (umask applied): temporary files
    and folders (``mkstemp``, ``mkdtemp``, some libraries' writers) are private to the owner, so
    another user (a serving process) could not read the result."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    On any exception the temporary file is removed and an existing ``path`` is left untouched.
    An output that cannot be written (a folder, a read-only place, under a file) is an
    ``OSError`` naming ``path``, raised before anything is written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "cannot write it: a folder is there", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the output the user gave, not a temporary file
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocking} is a file, not a folder" if blocking else e.strerror
        raise OSError(e.errno, f"cannot write it ({why})", str(path)) from None
    usual_mode(tmp)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_write(path) as fh:
        fh.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")


def write_records(path: str | os.PathLike, records: Iterable[Record], validate: bool = True) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    n = 0
    with atomic_write(path) as fh:
        for rec in records:
            if validate:
                validate_record(rec, where=f"{path}: record {n + 1}")
            fh.write(orjson.dumps(rec))
            fh.write(b"\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line; bad JSON names file and line."""
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise RecordError(f"{path}:{lineno}", "<line>", f"invalid JSON ({e})") from None


def read_records(path: str | os.PathLike, validate: bool = True) -> Iterator[Record]:
    """Read and validate records; a bad one raises :class:`RecordError` naming file:line."""
    for lineno, obj in iter_jsonl(path):
        yield validate_record(obj, where=f"{path}:{lineno}") if validate else obj
