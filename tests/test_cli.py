"""The ``ajtrain`` command itself: its version, one output flag name across stages, and train's
flags grouped by concern in ``--help``."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

import ajtrain
from ajtrain.cli import build_parser, main
from ajtrain.config import add_arguments, from_args
from ajtrain.train.config import TrainConfig


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


def test_train_flags_are_grouped_by_concern_in_help():
    # Each section of TrainConfig is an argument group of its own, in field order; no flag is
    # left outside one (only -h is under "options").
    parser = argparse.ArgumentParser()
    add_arguments(parser, TrainConfig)
    groups = {g.title: [a.dest for a in g._group_actions] for g in parser._action_groups}
    assert groups.pop("positional arguments") == [] and groups.pop("options") == ["help"]
    assert list(groups) == [
        "data and output", "base model and chat template", "LoRA", "length and batching",
        "loss, optimizer and schedule", "validation, checkpoints and logging", "runtime",
        "the tiny model (--base-model tiny)",
    ]  # fmt: skip
    assert groups["LoRA"] == ["lora", "lora_r", "lora_alpha"]
    assert groups["the tiny model (--base-model tiny)"] == [
        f.name for f in dataclasses.fields(TrainConfig) if f.name.startswith("tiny_")
    ]
    assert [d for dests in groups.values() for d in dests] == [
        f.name for f in dataclasses.fields(TrainConfig)
    ]
