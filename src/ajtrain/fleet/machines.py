"""Machines and fleets: loading the user's inventory (YAML or JSON) with clear errors."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..transcript import NAME_PATTERN
from ..yamlfile import load_yaml_node

STATUSES = ("running", "stopped")
# What a machine name is: ajtrain.transcript.NAME_PATTERN, the pattern messages are read for
# names with. The loader refuses anything else.
NAME_RULE = "ASCII letters and digits, with '.', '_' or '-' between them (e.g. prod-db-01)"
_NAME = re.compile(NAME_PATTERN)


def name_problem(name: Any) -> str | None:
    """Why ``name`` is not a valid machine name, or None when it is."""
    if not isinstance(name, str):
        return f"must be a string, got {type(name).__name__}"
    if not name:
        return "is missing or empty"
    if _NAME.fullmatch(name):
        return None
    if any(c.isspace() for c in name):
        return f"{name!r} must not contain whitespace"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
    shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
    return f"{name!r} is not a machine name: {shown + ' not allowed; ' if bad else ''}{NAME_RULE}"


@dataclass(frozen=True)
class Machine:
    name: str
    status: str = "running"
    env: str = ""
    role: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    protected: bool = False  # e.g. the user's own workstation

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem:
            raise FleetError(f"machine name {problem}")

    def to_dict(self) -> dict[str, Any]:
        """The compact view a tool result shows: empty fields left out."""
        d: dict[str, Any] = {"name": self.name, "status": self.status}
        for key in ("env", "role", "owner"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.tags:
            d["tags"] = list(self.tags)
        if self.protected:
            d["protected"] = True
        return d


class FleetError(ValueError):
    """A bad fleet file; the message names the file, the machine and the field."""


_FIELDS = {f.name for f in dataclasses.fields(Machine)}


def machine_from_dict(obj: Any, where: str) -> Machine:
    if not isinstance(obj, dict):
        raise FleetError(f"{where}: expected a mapping with at least 'name'")
    unknown = set(obj) - _FIELDS
    if unknown:
        raise FleetError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    problem = name_problem(obj.get("name", ""))
    if problem:
        raise FleetError(f"{where}: field 'name' {problem}")
    status = obj.get("status", "running")
    if status not in STATUSES:
        raise FleetError(f"{where}: field 'status' is {status!r}; expected one of {STATUSES}")
    for key in ("env", "role", "owner"):
        if not isinstance(obj.get(key, ""), str):
            raise FleetError(f"{where}: field '{key}' must be a string")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FleetError(f"{where}: field 'tags' must be a list of strings")
    if not isinstance(obj.get("protected", False), bool):
        raise FleetError(f"{where}: field 'protected' must be true or false")
    return Machine(**{**obj, "tags": tuple(tags)})


def check_unique(machines: list[Machine], where: str) -> None:
    seen: set[str] = set()
    for m in machines:
        if m.name in seen:
            raise FleetError(f"{where}: duplicate machine name {m.name!r}")
        seen.add(m.name)


def _item_lines(node: yaml.Node | None) -> list[int]:
    """Line number of each machine in a YAML fleet file's node tree, for error messages."""
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if k.value == "machines"), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def load_fleet(path: str | Path) -> list[Machine]:
    """Read a fleet file: a list of machines, or a mapping with a ``machines`` list.

    Names are exact and case-sensitive (``domain02`` and ``Domain02`` are two machines); a
    duplicate name, a missing name or a bad status is an error naming the file, line and machine.
    """
    path = Path(path)
    text = path.read_text()
    is_json = path.suffix == ".json"
    try:
        data, node = (json.loads(text), None) if is_json else load_yaml_node(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise FleetError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {e}") from None
    if isinstance(data, dict):
        data = data.get("machines")
    if not isinstance(data, list) or not data:
        raise FleetError(f"{path}: expected a non-empty list of machines (or a 'machines:' list)")
    lines = _item_lines(node)
    machines = []
    for i, obj in enumerate(data):
        label = obj.get("name", f"#{i + 1}") if isinstance(obj, dict) else f"#{i + 1}"
        at = f"{path}:{lines[i]}" if i < len(lines) else str(path)
        machines.append(machine_from_dict(obj, f"{at}: machine {label}"))
    first: dict[str, int] = {}
    for i, m in enumerate(machines):
        if m.name in first:
            at = f"{path}:{lines[i]}" if i < len(lines) else str(path)
            was = f" (first on line {lines[first[m.name]]})" if i < len(lines) else ""
            raise FleetError(f"{at}: duplicate machine name {m.name!r}{was}")
        first[m.name] = i
    return machines


def example_fleet_path() -> Path:
    """The example inventory, shipped in this package (``examples/fleet.yaml`` in a checkout
    links to it): ``ajtrain fleet serve``'s default fleet and the canonical 20's."""
    return Path(str(resources.files("ajtrain.fleet") / "example.yaml"))
