"""Tool JSON schemas derived from the functions that implement them (signature + docstring),
so the schema the model is trained on is the schema the code runs."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

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
