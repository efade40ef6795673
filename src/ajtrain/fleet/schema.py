"""Tools declared by the functions that implement them: the JSON schema from the signature and
docstring, so the schema the model is trained on is the schema the code runs, and the kind
(read / destructive / repair) from a decorator, so every layer that must treat a destructive
call differently asks the same declaration (docs/TRAINING_ARCHITECTURE.md, "The fleet and its
tools")."""

from __future__ import annotations

import enum
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any


class ToolKind(enum.Enum):
    """What a tool does to the fleet, which decides how the guard and the checker treat it."""

    READ = "read"  # changes nothing; the machines its result shows ground a name
    DESTRUCTIVE = "destructive"  # needs a grounded, exact, confirmed target
    REPAIR = "repair"  # undoes a destructive call


def tool(kind: ToolKind) -> Callable[[Callable], Callable]:
    """Declare a method a published tool of ``kind`` (tau2-bench's ``@is_tool(ToolType.WRITE)``)."""

    def declare(fn: Callable) -> Callable:
        fn.tool_kind = kind  # type: ignore[attr-defined]
        return fn

    return declare


def tool_kinds(cls: type) -> dict[str, ToolKind]:
    """Name → kind of every method of ``cls`` declared with :func:`tool`, in definition order."""
    return {name: fn.tool_kind for name, fn in vars(cls).items() if hasattr(fn, "tool_kind")}


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARG_LINE = re.compile(r"^\s{4,}(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _doc_parts(fn: Callable) -> tuple[str, dict[str, str]]:
    """(summary, {arg: description}) from a Google-style docstring."""
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\nArgs:\n")
    args = {}
    for line in ("    " + rest.replace("\n", "\n    ")).splitlines():
        m = _ARG_LINE.match(line)
        if m:
            args[m.group(1)] = m.group(2).strip()
    return " ".join(summary.split()), args


def tool_schema(fn: Callable) -> dict[str, Any]:
    """OpenAI function-tool schema for ``fn`` (a bound method or function)."""
    summary, arg_docs = _doc_parts(fn)
    hints = typing.get_type_hints(fn)
    props: dict[str, Any] = {}
    required = []
    for name, param in inspect.signature(fn).parameters.items():
        if name == "self":
            continue
        prop: dict[str, Any] = {"type": _JSON_TYPES[hints[name]]}
        if name in arg_docs:
            prop["description"] = arg_docs[name]
        if param.default is inspect.Parameter.empty:
            required.append(name)
        props[name] = prop
    return {
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": summary,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }
