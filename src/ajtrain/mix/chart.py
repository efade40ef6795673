"""A PNG of a mix's composition: records per source, split by category (from the manifest)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; this module is imported lazily by the mix

import matplotlib.pyplot as plt  # noqa: E402

from ..records import atomic_write  # noqa: E402

TOP_CATEGORIES = 8  # more than this per source are folded into "other" to keep the legend legible


def plot_composition(manifest: dict, path: str | Path) -> None:
    """Horizontal stacked bars, one per source, one segment per category; written atomically."""
    sources = manifest["sources"]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(sources)))
    colours = plt.get_cmap("tab20").colors
    legend: dict[str, object] = {}
    for row, src in enumerate(sources):
        cats = sorted(src["categories"].items(), key=lambda kv: (-kv[1], kv[0]))
        shown = cats[:TOP_CATEGORIES]
        rest = sum(n for _, n in cats[TOP_CATEGORIES:])
        if rest:
            shown.append(("other", rest))
        left = 0
        for name, n in shown:
            key = f"{src['name']}/{name}"
            bar = ax.barh(row, n, left=left, color=colours[len(legend) % len(colours)])
            legend.setdefault(key, bar)
            left += n
        label = f"{src['train'] + src['val']:,}"
        if src["upsample_factor"] > 1:
            label += f" (x{src['upsample_factor']:.2f})"
        ax.text(left, row, " " + label, va="center", fontsize=8)
    ax.set_yticks(range(len(sources)), [s["name"] for s in sources])
    ax.invert_yaxis()
    recipe = manifest["recipe"]
    ax.set_title(f"mix '{recipe['name']}': {recipe['total']:,} records, seed {recipe['seed']}")
    ax.set_xlabel("records (train + val)")
    ax.legend(
        legend.values(), legend.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5)
    )
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
