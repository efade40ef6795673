"""Mix recipes: YAML files that say how many records to take from which files
(docs/TRAINING_ARCHITECTURE.md, "Recipes and the manifest").

A recipe names a total, a seed, a validation fraction and its sources; each source is a path or
glob with either an exact ``count`` or a ``fraction`` of the total::

    # ajtrain mix --recipe my_mix.yaml
    total: 10000
    seed: 0
    val_fraction: 0.02
    allow_oversample: false        # a source short of its quota is an error unless allowed
    sources:
      shutdown: {path: data/shutdown_trajectories*.jsonl, count: 500}
      toucan: {path: data/toucan_*_trajectories.jsonl, fraction: 0.95}

Relative paths are relative to the current directory. Quotas are exact integers: fractions are
turned into counts by largest remainder, and counts plus fractions must add up to the total.
"""

from __future__ import annotations

import dataclasses
import math
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..yamlfile import load_yaml

BUILTIN = ("safety", "general")
RECIPE_KEYS = {
    "name",
    "description",
    "total",
    "seed",
    "val_fraction",
    "allow_oversample",
    "sources",
}
SOURCE_KEYS = {"path", "count", "fraction", "allow_oversample", "hint"}


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the recipe file and the key."""

    def __init__(self, recipe: str, key: str, problem: str):
        self.recipe, self.key, self.problem = recipe, key, problem
        super().__init__(f"recipe {recipe}: key '{key}': {problem}")


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    path: str  # a file path or a glob
    quota: int  # exact number of records wanted in the output (train + val)
    allow_oversample: bool
    hint: str = ""  # how to make more of this source; shown when it is missing or short


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    origin: str  # where the recipe came from, for messages and the manifest
    total: int
    seed: int
    val_fraction: float
    sources: tuple[Source, ...]


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("ajtrain.mix") / "recipes" / f"{name}.yaml"))


def resolve(recipe: str | Path) -> Path:
    """A built-in recipe name (``safety``, ``general``) or a YAML file path, as a path."""
    if str(recipe) in BUILTIN:
        return builtin_path(str(recipe))
    path = Path(recipe)
    if not path.is_file():
        raise FileNotFoundError(
            f"recipe {recipe}: no such file (built-in recipes: {', '.join(BUILTIN)})"
        )
    return path


def load_recipe(
    recipe: str | Path,
    overrides: dict[str, str] | None = None,
    seed: int | None = None,
    allow_oversample: bool | None = None,
) -> Recipe:
    """Read and check a recipe; ``overrides`` replaces source paths by name (``--source``)."""
    path = resolve(recipe)
    origin = str(recipe) if str(recipe) in BUILTIN else str(path)
    try:
        data = load_yaml(path.read_text())  # a key given twice is an error, not the last one
    except yaml.YAMLError as e:
        raise RecipeError(origin, "<file>", f"invalid YAML ({e})") from None
    return parse_recipe(data, origin, overrides or {}, seed, allow_oversample)


def _check_keys(obj: Any, allowed: set[str], origin: str, where: str) -> dict:
    if not isinstance(obj, dict):
        raise RecipeError(
            origin, where or "<root>", f"expected a mapping, got {type(obj).__name__}"
        )
    for key in obj:
        if key not in allowed:
            field = f"{where}.{key}" if where else str(key)
            raise RecipeError(
                origin, field, f"unknown key (expected one of: {', '.join(sorted(allowed))})"
            )
    return obj


def _number(obj: dict, key: str, kind: type, origin: str, field: str, default: Any = None) -> Any:
    value = obj.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise RecipeError(origin, field, f"expected a {kind.__name__}, got {value!r}")
    return kind(value)


def _flag(obj: dict, key: str, origin: str, field: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise RecipeError(origin, field, f"expected true or false, got {value!r}")
    return value


def parse_recipe(
    data: Any,
    origin: str,
    overrides: dict[str, str] | None = None,
    seed: int | None = None,
    allow_oversample: bool | None = None,
) -> Recipe:
    """Check a recipe already loaded from YAML and turn its quotas into exact counts."""
    data = _check_keys(data, RECIPE_KEYS, origin, "")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise RecipeError(origin, "sources", "expected a non-empty mapping of name -> source")
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(sources)
    if unknown:
        raise RecipeError(
            origin, "sources", f"--source names {sorted(unknown)} not in recipe {sorted(sources)}"
        )
    recipe_oversample = _flag(data, "allow_oversample", origin, "allow_oversample", False)
    if allow_oversample is not None:
        recipe_oversample = allow_oversample
    counts: dict[str, int] = {}
    fractions: dict[str, float] = {}
    specs: dict[str, dict] = {}
    for name, spec in sources.items():
        field = f"sources.{name}"
        if isinstance(spec, str):  # shorthand: `name: path` needs a count or fraction, so refuse
            raise RecipeError(origin, field, "expected {path, count or fraction}, got a string")
        spec = _check_keys(spec, SOURCE_KEYS, origin, field)
        path = overrides.get(name, spec.get("path"))
        if not isinstance(path, str) or not path.strip():
            raise RecipeError(origin, f"{field}.path", "missing: give a file path or glob")
        if ("count" in spec) == ("fraction" in spec):
            raise RecipeError(origin, field, "give exactly one of 'count' or 'fraction'")
        if "count" in spec:
            counts[name] = _number(spec, "count", int, origin, f"{field}.count")
            if counts[name] < 0:
                raise RecipeError(origin, f"{field}.count", "must not be negative")
        else:
            fractions[name] = _number(spec, "fraction", float, origin, f"{field}.fraction")
            if not 0 <= fractions[name] <= 1:
                raise RecipeError(
                    origin, f"{field}.fraction", f"{fractions[name]} is not in [0, 1]"
                )
        specs[name] = {**spec, "path": path}
    total = _total(data, counts, fractions, origin)
    quotas = {**counts, **_fraction_counts(fractions, total)}
    if sum(quotas.values()) != total:
        raise RecipeError(
            origin,
            "sources",
            f"quotas add up to {sum(quotas.values())} but total is {total}: "
            "adjust the counts/fractions so that they fill the total exactly",
        )
    val_fraction = _number(data, "val_fraction", float, origin, "val_fraction", 0.0)
    if not 0 <= val_fraction < 1:
        raise RecipeError(origin, "val_fraction", f"{val_fraction} is not in [0, 1)")
    return Recipe(
        name=str(data.get("name", Path(origin).stem)),
        origin=origin,
        total=total,
        seed=seed if seed is not None else _number(data, "seed", int, origin, "seed", 0),
        val_fraction=val_fraction,
        sources=tuple(
            Source(
                name=name,
                path=specs[name]["path"],
                quota=quotas[name],
                allow_oversample=recipe_oversample
                or _flag(specs[name], "allow_oversample", origin, f"sources.{name}", False),
                hint=str(specs[name].get("hint", "")),
            )
            for name in sources
        ),
    )


def _total(data: dict, counts: dict[str, int], fractions: dict[str, float], origin: str) -> int:
    if sum(fractions.values()) > 1 + 1e-9:
        raise RecipeError(
            origin, "sources", f"fractions add up to {sum(fractions.values()):g}, more than 1"
        )
    if "total" not in data:
        if fractions:
            raise RecipeError(origin, "total", "missing: fractions need a total to be a share of")
        return sum(counts.values())
    total = _number(data, "total", int, origin, "total")
    if total <= 0:
        raise RecipeError(origin, "total", "must be positive")
    return total


def _fraction_counts(fractions: dict[str, float], total: int) -> dict[str, int]:
    """Fractions of ``total`` as integers that add up to the rounded sum (largest remainder)."""
    if not fractions:
        return {}
    exact = {name: f * total for name, f in fractions.items()}
    counts = {name: math.floor(x + 1e-9) for name, x in exact.items()}
    missing = round(sum(exact.values())) - sum(counts.values())
    by_remainder = sorted(exact, key=lambda n: (-(exact[n] - counts[n]), n))
    for name in by_remainder[:missing]:
        counts[name] += 1
    return counts
