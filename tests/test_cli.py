"""The ``ajtrain`` command itself: its version, and one output flag name across stages."""

from __future__ import annotations

import pytest

import ajtrain
from ajtrain.cli import build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"ajtrain {ajtrain.__version__}"


STAGES = {  # argv before the output flag -> the config field it fills
    ("generate",): "out",
    ("load", "toucan"): "output",
    ("mix",): "out",
    ("train", "--data", "d.jsonl"): "output",
    ("eval", "--model", "scripted:oracle"): "out",
    ("report", "--compare", "results"): "out",
}


@pytest.mark.parametrize(("argv", "field"), STAGES.items())
def test_every_stage_takes_output_and_the_old_out(argv, field):
    parser = build_parser()
    for flag in ("--output", "--out"):
        ns = parser.parse_args([*argv, flag, "somewhere"])
        assert getattr(ns, field) == "somewhere", (argv, flag)


def test_generate_with_load_dataset_keeps_its_own_output():
    # The load flags join generate's parser; generate's --output is not taken over by them.
    ns = build_parser().parse_args(["generate", "--load-dataset", "toucan", "--output", "x.jsonl",
                                    "--sample", "100"])  # fmt: skip
    assert ns.out == "x.jsonl" and ns.sample == "100" and not hasattr(ns, "output")
