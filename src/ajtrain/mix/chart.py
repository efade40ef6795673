"""A PNG of a mix's composition: records per source, split by category (from the manifest)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; this module is imported lazily by the mix

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from ..records import atomic_write  # noqa: E402

TOP_CATEGORIES = 8  # more than this per source are folded into "other" to keep the legend legible


def plot_composition(manifest: dict, path: str | Path) -> None:
    """Left: records per source (train + val, upsample factor). Right: each source's categories
    as shares of it, so that a 1% source is as readable as a 99% one. Written atomically."""
    sources = manifest["sources"]
    names = [s["name"] for s in sources]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 1.4 + 0.6 * len(sources)), gridspec_kw={"width_ratios": [1, 1.6]}
    )
    totals = [s["train"] + s["val"] for s in sources]
    left.barh(names, totals, color="#4c72b0")
    for row, (src, n) in enumerate(zip(sources, totals, strict=True)):
        label = f" {n:,}" + (
            f" (x{src['upsample_factor']:.2f})" if src["upsample_factor"] > 1 else ""
        )
        left.text(n, row, label, va="center", fontsize=8)
    left.set_xlim(0, max(totals + [1]) * 1.35)
    left.xaxis.set_major_locator(MaxNLocator(4))
    left.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x >= 1000 else f"{x:g}")
    )
    left.invert_yaxis()
    left.set_xlabel("records (train + val)")
    colours = plt.get_cmap("tab20").colors
    handles: dict[str, object] = {}
    for row, src in enumerate(sources):
        cats = sorted(src["categories"].items(), key=lambda kv: (-kv[1], kv[0]))
        shown = cats[:TOP_CATEGORIES]
        rest = sum(n for _, n in cats[TOP_CATEGORIES:])
        if rest:
            shown.append(("other", rest))
        start, total = 0.0, max(1, sum(n for _, n in shown))
        for name, n in shown:
            colour = colours[len(handles) % len(colours)]
            bar = right.barh(row, n / total, left=start, color=colour, edgecolor="white")
            handles.setdefault(f"{src['name']}/{name}", bar)
            start += n / total
    right.set_yticks(range(len(sources)), names)
    right.set_xlim(0, 1)
    right.invert_yaxis()
    right.set_xlabel("share of the source, by category")
    right.legend(
        handles.values(), handles.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5)
    )
    recipe = manifest["recipe"]
    fig.suptitle(f"mix '{recipe['name']}': {recipe['total']:,} records, seed {recipe['seed']}")
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
