"""Mix stage: exact recipes, dedup, decontamination, split and manifest.

See docs/TRAINING_ARCHITECTURE.md, "Mix".
"""

from .mix import MixConfig, run_mix
from .recipe import BUILTIN, Recipe, RecipeError, Source, load_recipe, parse_recipe

__all__ = [
    "BUILTIN",
    "MixConfig",
    "Recipe",
    "RecipeError",
    "Source",
    "load_recipe",
    "parse_recipe",
    "run_mix",
]
