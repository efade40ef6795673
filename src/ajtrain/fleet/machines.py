"""Machines and fleets: loading the user's inventory (YAML or JSON) with clear errors."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STATUSES = ("running", "stopped")


@dataclass(frozen=True)
class Machine:
    name: str
    status: str = "running"
    env: str = ""
    role: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    protected: bool = False  # e.g. the user's own workstation

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
    name = obj.get("name")
    if name is None or name == "":
        raise FleetError(f"{where}: field 'name' is missing or empty")
    if not isinstance(name, str):
        raise FleetError(f"{where}: field 'name' must be a string, got {type(name).__name__}")
    if name != name.strip() or any(c.isspace() for c in name):
        raise FleetError(f"{where}: field 'name' {name!r} must not contain whitespace")
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


def _item_lines(text: str, is_json: bool) -> list[int]:
    """Line number of each machine in a YAML fleet file (JSON: none), for error messages."""
    if is_json:
        return []
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
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
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise FleetError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {e}") from None
    if isinstance(data, dict):
        data = data.get("machines")
    if not isinstance(data, list) or not data:
        raise FleetError(f"{path}: expected a non-empty list of machines (or a 'machines:' list)")
    lines = _item_lines(text, is_json)
    machines = []
    for i, obj in enumerate(data):
        label = obj.get("name", f"#{i + 1}") if isinstance(obj, dict) else f"#{i + 1}"
        at = f"{path}:{lines[i]}" if i < len(lines) else str(path)
        machines.append(machine_from_dict(obj, f"{at}: machine {label}"))
    for i, m in enumerate(machines):
        if any(m.name == other.name for other in machines[:i]):
            at = f"{path}:{lines[i]}" if i < len(lines) else str(path)
            raise FleetError(f"{at}: duplicate machine name {m.name!r}")
    return machines
