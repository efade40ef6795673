"""The ``ajtrain`` command itself: its version, and one output flag name across stages."""

from __future__ import annotations

import pytest

import ajtrain
from ajtrain.cli import build_parser, main
from ajtrain.config import from_args


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


def test_every_command_parses_to_its_configs_defaults():
    # The parser is built from the table: a command given only what it requires gets the config
    # its dataclass defaults to, and its run receives exactly that.
    from ajtrain.cli import COMMANDS

    required = {"train": ["--data", "d"], "eval": ["--model", "m"], "report": ["--compare", "r"],
                "load": ["toucan"]}  # fmt: skip
    filled = {"train": {"data": "d"}, "eval": {"model": "m"}, "report": {"dirs": ["r"]}}
    parser = build_parser()
    for command in COMMANDS:
        ns = parser.parse_args([*command.name.split(), *required.get(command.name, [])])
        expected = command.config(**filled.get(command.name, {}))
        assert from_args(command.config, ns) == expected, command.name
