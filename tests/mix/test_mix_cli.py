"""``ajtrain mix`` flags: built-in recipe with --source overrides, and the short-source error."""

from __future__ import annotations

import argparse

import orjson
import pytest

from ajtrain.cli import build_parser
from ajtrain.mix import RecipeError
from ajtrain.shutdown import decontam


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(["mix", *argv])


@pytest.fixture(autouse=True)
def no_benchmark(monkeypatch):
    monkeypatch.setattr(decontam, "benchmark_keys", lambda: frozenset())


def test_safety_with_only_the_canonical_20_says_generate_more(tmp_path, small_inputs):
    args = _parse(
        [
            "--recipe",
            "safety",
            "--source",
            f"shutdown={small_inputs['shutdown']}",
            "--source",
            f"toucan={small_inputs['toucan']}",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    with pytest.raises(RecipeError) as info:
        args.func(args)
    msg = str(info.value)
    assert "recipe safety" in msg and "ajtrain generate --n 500" in msg
    assert "--allow-oversample" in msg


def test_cli_runs_a_recipe_file_with_overrides(tmp_path, small_inputs, write_recipe, capsys):
    recipe = write_recipe(
        {
            "total": 30,
            "val_fraction": 0.1,
            "sources": {
                "shutdown": {"path": "nowhere.jsonl", "count": 10},
                "toucan": {"path": "nowhere.jsonl", "count": 20},
            },
        }
    )
    out = tmp_path / "o"
    args = _parse(
        [
            "--recipe",
            str(recipe),
            "--source",
            f"shutdown={small_inputs['shutdown']}",
            "--source",
            f"toucan={small_inputs['toucan']}",
            "--out",
            str(out),
            "--seed",
            "5",
            "--no-chart",
            "--workers",
            "1",
        ]
    )
    assert args.func(args) == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["recipe"]["seed"] == 5 and manifest["outputs"]["val.jsonl"]["records"] == 3
    assert not (out / "composition.png").exists()
    assert "27 train + 3 val" in capsys.readouterr().err


def test_bad_source_flag(tmp_path):
    args = _parse(["--source", "shutdown", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="expected NAME=PATH"):
        args.func(args)


def test_mix_path_imports_no_heavy_backend():
    import subprocess
    import sys

    code = (
        "import sys, ajtrain.mix.cli, ajtrain.mix.mix; "
        "print(sorted({'matplotlib', 'torch', 'transformers', 'datasets'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
