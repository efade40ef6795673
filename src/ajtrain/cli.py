"""The ``ajtrain`` command: one subcommand per pipeline stage.

Each stage module exposes ``register(subparsers)``; heavy backends (torch, transformers) are
imported only inside the command that needs them, so ``ajtrain generate`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console

from .records import RecordError

# Order here is the order in `ajtrain --help`: the pipeline, then the tools around it.
COMMAND_MODULES = (
    "ajtrain.shutdown.cli",  # generate
    "ajtrain.toucan.cli",  # load
    "ajtrain.mix.cli",  # mix
    "ajtrain.train.cli",  # train
    "ajtrain.eval.cli",  # eval, report
    "ajtrain.fleet.cli",  # fleet serve
    "ajtrain.guard.cli",  # guard serve
)

err = Console(stderr=True)


class UserError(Exception):
    """A problem with the user's input or environment: printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ajtrain",
        description=(
            "Train a tool-using operations agent to be capable and safe: generate shutdown "
            "trajectories, load Toucan-1.5M, mix, train, evaluate, guard."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not name.startswith(e.name or "?"):  # a missing dependency, not an unbuilt stage
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, RecordError, FileNotFoundError, ValueError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted[/]: outputs are written atomically, nothing partial was left"
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
