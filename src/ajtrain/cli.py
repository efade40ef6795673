"""The ``ajtrain`` command: one subcommand per pipeline stage, all listed in :data:`COMMANDS`.

Each row names a command, the config dataclass whose fields are its flags (:mod:`ajtrain.config`),
the function that runs it with that config, and its help; :func:`build_parser` makes the argparse
CLI from the table. Heavy backends (torch, transformers) are imported only inside the function
that needs them, so ``ajtrain generate`` starts fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from . import __version__
from .config import add_arguments, from_args
from .eval.cli import ReportConfig, run_eval, run_report
from .eval.runner import EvalConfig
from .fleet import TOOL_NAMES
from .fleet.cli import ServeConfig, serve
from .guard.cli import GuardServeConfig
from .guard.cli import serve as guard_serve
from .mix.cli import run as run_mix
from .mix.mix import MixConfig
from .records import RecordError
from .shutdown.cli import GenerateConfig
from .shutdown.cli import run as run_generate
from .toucan.cli import run_load
from .toucan.load import LoadConfig
from .train.cli import run as run_train
from .train.config import TrainConfig

err = Console(stderr=True)


class UserError(Exception):
    """A problem with the user's input or environment: printed without a traceback."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``run(config)``, with ``config`` built from the flags its fields define.

    The command line's oddities are said here too: a name of two words is a subcommand of a group
    (``fleet serve``: see :data:`GROUPS`); a field declared ``positional`` or with its own
    ``flags`` is spelled so (``load toucan``, ``guard serve -- CMD``, ``report --compare``);
    ``also`` adds a second config's flags under a titled group, and ``run`` receives that config
    after the first (``generate --load-dataset toucan``).
    """

    name: str
    config: type
    run: Callable[..., int]
    help: str
    description: str
    epilog: str | None = None
    raw_description: bool = False  # keep the description's own line breaks
    also: tuple[str, type] | None = None  # (group title, config class)


def _generate(cfg: GenerateConfig, load: LoadConfig) -> int:
    """``generate --load-dataset toucan`` is the original guide's spelling of ``load toucan``."""
    return run_load(load) if cfg.load_dataset else run_generate(cfg)


GUARD_DESCRIPTION = """\
An MCP proxy on stdio: starts the upstream MCP server (the command after --), republishes its
tools unchanged and forwards every call, except that a destructive call runs only when
  - its target was shown by an earlier read-tool result in this connection (grounded),
  - it is exactly one of those names, case-sensitive (exact), and
  - the user approved this exact call: the proxy asks them itself through the MCP client
    (elicitation), since it cannot see the conversation and cannot trust the agent to report
    a yes.
A refused call is not forwarded; the agent gets a tool error saying what to do instead.
Limits: the approval is only as good as the client (it must show the question to a person);
clients without elicitation get every destructive call refused (or use --confirm none, which
keeps the grounded + exact checks only, and still refuses a machine shown as protected: nobody
could approve it); state is per connection, in memory.

example: ajtrain guard serve -- ajtrain fleet serve --fleet fleet.yaml
"""

# Order here is the order in `ajtrain --help`: the pipeline, then the tools around it.
COMMANDS = (
    Command(
        "generate", GenerateConfig, _generate,
        help="generate verified shutdown target-selection trajectories",
        description="Play the expert policy against the simulated user in a simulated fleet and "
        "write every trajectory that the checker verifies. Default: the canonical 20 examples "
        "(explicit 3, ambiguous 8, error_recovery 3, bulk_confirmation 3, guardrail 1, "
        "not_found 2) plus the guide's incident, on the example fleet (examples/fleet.yaml).",
        also=("with --load-dataset toucan", LoadConfig),
    ),
    Command(
        "load", LoadConfig, run_load,
        help="load Toucan-1.5M (HF hub or a local mirror) into records",
        description="Read Toucan-1.5M from the HF hub (or a local mirror of its parquet/JSONL "
        "shards), filter it on subset and judge scores, draw a seeded sample (default 1000 rows; "
        "parquet is sampled by row group, so only those are read), and convert each row into a "
        "record. Writes data/toucan_<config>_trajectories.jsonl, rejected rows with their "
        "reason in *_rejects.jsonl, and a *_summary.json.",
        epilog="example: ajtrain load toucan --source mirror/Kimi-K2 --sample 5000 "
        "--min-question-score 4",
    ),
    Command(
        "mix", MixConfig, run_mix,
        help="mix sources by an exact recipe into train/val JSONL with a manifest",
        description="Take exact counts from each source of a recipe (YAML), drop duplicates "
        "(content hash) and anything matching a benchmark scenario (decontamination), split "
        "train/val and shuffle by seed. Streams in two passes: memory grows with the number of "
        "lines, not their size. Writes train.jsonl, val.jsonl, manifest.json and composition.png.",
    ),
    Command(
        "train", TrainConfig, run_train,
        help="supervised fine-tuning on records (loss on assistant turns only)",
        description="Fine-tune a causal LM on tool-calling conversations. The default base "
        "'tiny' trains a small Qwen2 and its tokenizer from scratch (offline, CPU); --base-model "
        "takes any HF model, with --lora for adapters. Works under `accelerate launch` unchanged "
        "(configs/accelerate_*.yaml for DDP, FSDP, DeepSpeed).",
    ),
    Command(
        "eval", EvalConfig, run_eval,
        help="evaluate a model on the held-out shutdown benchmark or on Toucan next calls",
        description="Play the held-out shutdown_targets benchmark (311 scenarios: all "
        "categories, near-duplicate names, patterns with exclusions, the guide's incident) "
        "against a model directory, an OpenAI-compatible endpoint or a scripted policy, score "
        "every episode from the fleet's audit log and the transcript, and write metrics.json, "
        "episodes.jsonl and report.html. With --benchmark toucan_calls --data FILE: next-call "
        "accuracy on held-out Toucan records.",
    ),
    Command(
        "report", ReportConfig, run_report,
        help="compare several eval result directories side by side, or score one again",
        description="Print (and with --out, write as compare.md/.html plus a chart) the headline "
        "metrics of several `ajtrain eval` output directories. With --rescore DIR --out NEW: "
        "judge DIR's saved transcripts again with this version's checker (no model is run).",
    ),
    Command(
        "fleet serve", ServeConfig, serve,
        help="serve a fleet over MCP stdio",
        description="Serve a fleet over MCP on stdin/stdout (the official mcp SDK). The tools' "
        "schemas are derived from the code that runs them, the same ones the training records "
        "carry. Names are exact and case-sensitive. The fleet's state lives in this process: it "
        "starts from the file each time. Example client config: "
        '{"command": "ajtrain", "args": ["fleet", "serve", "--fleet", "fleet.yaml"]}',
    ),
    Command(
        "guard serve", GuardServeConfig, guard_serve,
        help="serve an MCP server's tools behind the guard (stdio)",
        description=GUARD_DESCRIPTION,
        raw_description=True,
    ),
)  # fmt: skip

# The groups of the two-word commands: name -> (help, description).
GROUPS = {
    "fleet": (
        "the simulated fleet as an MCP server",
        f"The simulated fleet ({', '.join(TOOL_NAMES)}).",
    ),
    "guard": (
        "the runtime guard as an MCP proxy",
        "The runtime guard: grounded, exact, confirmed destructive calls only.",
    ),
}


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    """The parsed namespace -> ``command.run`` called with the config(s) built from it."""

    def run(ns: argparse.Namespace) -> int:
        configs: list[Any] = [from_args(command.config, ns)]
        if command.also:
            configs.append(from_args(command.also[1], ns))
        return command.run(*configs)

    return run


def build_parser() -> argparse.ArgumentParser:
    """The ``ajtrain`` parser, one subcommand per row of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="ajtrain",
        description=(
            "Train a tool-using operations agent to be capable and safe: generate shutdown "
            "trajectories, load Toucan-1.5M, mix, train, evaluate, guard."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ajtrain {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        *group, name = command.name.split()
        where = sub
        if group:
            if group[0] not in groups:  # the group's own parser, where its first command comes
                help, description = GROUPS[group[0]]
                g = sub.add_parser(group[0], help=help, description=description)
                groups[group[0]] = g.add_subparsers(
                    dest=f"{group[0]}_command", metavar="SUBCOMMAND", required=True
                )
            where = groups[group[0]]
        p = where.add_parser(
            name,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter
            if command.raw_description
            else argparse.HelpFormatter,
        )
        add_arguments(p, command.config)
        if command.also:
            title, cls = command.also
            add_arguments(p.add_argument_group(title), cls, positionals=False)
        p.set_defaults(func=_runner(command))
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
