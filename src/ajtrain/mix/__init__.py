"""Mix stage: exact recipes, dedup, decontamination, split and manifest (DESIGN §6)."""

from .mix import run_mix
from .recipe import BUILTIN, Recipe, RecipeError, Source, load_recipe, parse_recipe

__all__ = ["BUILTIN", "Recipe", "RecipeError", "Source", "load_recipe", "parse_recipe", "run_mix"]
