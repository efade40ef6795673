"""The ``ajtrain`` command: one subcommand per pipeline stage.

Each stage module exposes ``register(subparsers)``; heavy backends (torch, transformers) are
imported only inside the command that needs them, so ``ajtrain generate`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from rich.console import Console
from rich.text import Text

from . import __version__
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
    parser.add_argument("--version", action="version", version=f"ajtrain {__version__}")
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


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C so that every temporary output file is removed on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def say(label: str, style: str, text: str) -> None:
    """Print ``label: text`` on stderr with ``text`` exactly as it is: a name or path holding
    ``[/]``, ``[red]`` or ``:100:`` is user text, never rich markup nor an emoji code."""
    err.print(Text.assemble((label, style), " ", text), highlight=False, soft_wrap=True)


def describe_os_error(e: OSError) -> str:
    """'PATH: what went wrong' (both paths for a rename), without Python's '[Errno N]'."""
    paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {e.strerror or e}" if paths else str(e)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except (UserError, RecordError, ValueError) as e:
        say("error:", "bold red", str(e))
        return 2
    except OSError as e:  # an output in a read-only place, a folder, a full disk, ...
        say("error:", "bold red", describe_os_error(e))
        return 2
    except KeyboardInterrupt:
        say("interrupted:", "yellow", "outputs are written atomically, nothing partial was left")
        return 130
    except Terminated:
        say("terminated:", "yellow", "outputs are written atomically, nothing partial was left")
        return 143
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
