"""``ajtrain load toucan``: a thin wrapper over :func:`ajtrain.toucan.load.load_toucan`.

``ajtrain generate --load-dataset toucan --sample N`` (the original guide's form) reaches the
same code: the command table (``ajtrain.cli``) gives generate the load flags and calls
:func:`run_load`.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .load import LoadConfig, LoadSummary, load_toucan


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


def run_load(cfg: LoadConfig) -> int:
    """Load and print the accounting (``load toucan``, ``generate --load-dataset toucan``)."""
    summary = load_toucan(cfg)
    print_summary(summary)
    return 0
