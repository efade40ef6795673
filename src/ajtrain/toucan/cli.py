"""``ajtrain load toucan``: a thin wrapper over :func:`ajtrain.toucan.load.load_toucan`.

``ajtrain generate --load-dataset toucan --sample N`` (the original guide's form) reaches the
same code: the generate command adds :func:`add_load_arguments` to its parser and calls
:func:`run_load`.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import add_arguments, from_args
from .load import LoadConfig, LoadSummary, load_toucan

DATASETS = ("toucan",)


def add_load_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add every ``load`` flag (not the positional dataset name) from :class:`LoadConfig`."""
    add_arguments(parser, LoadConfig)  # type: ignore[arg-type]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load Toucan-1.5M (HF hub or a local mirror) into records",
        description=(
            "Read Toucan-1.5M from the HF hub (or a local mirror of its parquet/JSONL shards), "
            "filter it on subset and judge scores, draw a seeded sample (default 1000 rows; "
            "parquet is sampled by row group, so only those are read), and convert each row "
            "into a record. Writes data/toucan_<config>_trajectories.jsonl, "
            "rejected rows with their reason in *_rejects.jsonl, and a *_summary.json."
        ),
        epilog="example: ajtrain load toucan --source mirror/Kimi-K2 --sample 5000 --min-question-score 4",
    )
    parser.add_argument("dataset", choices=DATASETS, help="dataset to load")
    add_load_arguments(parser)
    parser.set_defaults(func=run_load)


def print_summary(s: LoadSummary, console: Console | None = None) -> None:
    """Print the accounting: read = kept + rejected, with the count per reject reason."""
    console = console or Console()
    table = Table(title=Text(f"toucan {s.config}: {s.source}"), show_header=False, box=None)
    if s.row_groups:
        table.add_row("row groups read", s.row_groups)
    table.add_row("bytes read", f"{s.bytes_read / 1e6:,.1f} MB")
    table.add_row("scanned", f"{s.scanned:,}")
    if s.skipped_subset:
        table.add_row("other subsets", f"{s.skipped_subset:,}")
    if s.sample is not None:
        table.add_row(
            "not sampled", f"{s.not_sampled:,}  (sample {s.sample:,}, seed {s.sample_seed})"
        )
    table.add_row("read", f"{s.read:,} = kept {s.kept:,} + rejected {s.rejected:,}")
    for reason, n in s.reasons.items():
        table.add_row(f"  rejected: {reason}", f"{n:,}")
    for warning in s.warnings:  # user text (paths, names) as Text: never read as markup
        table.add_row(Text("warning", style="yellow"), Text(warning))
    table.add_row("records", Text(s.output))
    table.add_row("rejects", Text(s.rejects))
    table.add_row("summary", Text(s.summary))
    table.add_row("time", f"{s.seconds:.1f} s")
    console.print(table)


def run_load(args: argparse.Namespace) -> int:
    """Run a load from parsed arguments (of ``load`` or of ``generate --load-dataset``)."""
    summary = load_toucan(from_args(LoadConfig, args))
    print_summary(summary)
    return 0
