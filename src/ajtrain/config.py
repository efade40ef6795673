"""One definition for a CLI flag and its config field: a dataclass field with ``help`` metadata.

Each stage keeps its options in a dataclass; :func:`add_arguments` turns the fields into argparse
flags and :func:`from_args` builds the dataclass back from the parsed namespace. The commands and
their config classes are listed in one table, ``ajtrain.cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    flags: tuple[str, ...] = (),
    positional: bool = False,
    section: str = "",
    **argparse_kwargs: Any,
) -> Any:
    """A dataclass field that is also a CLI flag: ``--field-name``, or ``flags`` where the command
    line spells it otherwise (``report --compare``), or with ``positional`` an argument named by
    its place (``load toucan``). A ``section`` title starts a group of flags in ``--help`` that
    runs to the next field with one (``train``'s LoRA, batching, ... options). Extra kwargs go to
    argparse."""
    meta = {
        "help": help,
        "flags": flags,
        "positional": positional,
        "section": section,
        "argparse": argparse_kwargs,
    }
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(scalar type, optional?) for annotations such as ``int | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


# Every stage names where it writes with --output; --out, the older name of some, still works.
OUTPUT_FIELDS = ("out", "output")
OUTPUT_FLAGS = ("--output", "--out")


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    positionals: bool = True,
) -> None:
    """One flag per field with ``help`` metadata. An output field (:data:`OUTPUT_FIELDS`) is
    ``--output`` with ``--out`` as an alias; a flag the parser already has is left to its owner
    (``generate --load-dataset toucan`` adds the load flags beside generate's own ``--output``),
    and so are the positional fields where ``positionals`` is false. A field's ``section`` opens
    a titled argument group holding it and the fields after it; added to a group (``also``),
    they stay in that one, as argparse does not nest groups."""
    hints = typing.get_type_hints(cls)
    taken = parser._option_string_actions  # an ArgumentParser's or an argument group's
    where = parser
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        if f.metadata.get("section") and isinstance(parser, argparse.ArgumentParser):
            where = parser.add_argument_group(f.metadata["section"])
        positional = f.metadata.get("positional", False)
        if positional:
            if not positionals:
                continue
            flags = [f.name]  # argparse names a positional's dest by it
        else:
            flags = f.metadata.get("flags") or (
                OUTPUT_FLAGS if f.name in OUTPUT_FIELDS else ("--" + f.name.replace("_", "-"),)
            )
            flags = [flag for flag in flags if flag not in taken]
            if not flags:
                continue
        kwargs = dict(f.metadata.get("argparse", {}))
        if f.name in OUTPUT_FIELDS:
            kwargs.setdefault("metavar", "PATH")
        tp, _ = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        help_text = f.metadata["help"]
        if tp is bool:
            kwargs.setdefault("action", argparse.BooleanOptionalAction)
        elif typing.get_origin(tp) is list:
            kwargs.setdefault("nargs", "*")
            kwargs.setdefault("type", typing.get_args(tp)[0])
        elif tp in (int, float, str):
            kwargs.setdefault("type", tp)
        if positional:  # its value is what the command line holds there: no default
            where.add_argument(*flags, help=help_text, **kwargs)
            continue
        if default not in (None, "", [], False):
            help_text += f" (default: {default})"
        where.add_argument(*flags, dest=f.name, default=default, help=help_text, **kwargs)


def from_args(cls: type[T], ns: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})
