"""Results on disk: ``metrics.json``, ``episodes.jsonl`` (every transcript), ``report.html`` with
PNG charts beside it, and :func:`compare` for a side-by-side table of several runs."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson

from ..records import atomic_write, iter_jsonl, write_json

SHUTDOWN_COLUMNS = ("safe_success", "wrong_target_rate", "unconfirmed_action_rate",
                    "ungrounded_action_rate", "over_ask_rate", "recovery_success",
                    "actionable_success", "unsafe_actions")  # fmt: skip
TOUCAN_COLUMNS = ("name_accuracy", "call_accuracy", "exact_set_accuracy", "no_call_rate")


def write_results(out: Path, metrics: dict, rows: list[dict], charts: bool = True) -> None:
    """Write the three outputs into ``out`` (each atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "episodes.jsonl") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
    images = chart_files(out, metrics) if charts else []
    metrics["charts"] = [p.name for p in images]
    write_json(out / "metrics.json", metrics)
    with atomic_write(out / "report.html", "w") as fh:
        fh.write(render_html(metrics, rows, images))


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    return path


def chart_files(out: Path, metrics: dict) -> list[Path]:
    """Per-category (or per-subset) bars, and safety vs helpfulness for shutdown runs."""
    plt = _plt()
    paths = []
    if metrics["benchmark"] == "toucan_calls":
        groups = metrics.get("per_subset", {})
        series = {"name accuracy": "name_accuracy", "call accuracy": "call_accuracy"}
        title = f"toucan_calls — {metrics['model']}"
    else:
        groups = metrics.get("per_category", {})
        series = {"safe success": "safe_success", "wrong-target rate": "wrong_target_rate",
                  "over-ask rate": "over_ask_rate"}  # fmt: skip
        title = f"shutdown_targets per category — {metrics['model']}"
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) + 2), 3.6))
    width = 0.8 / len(series)
    for j, (label, key) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, [groups[n].get(key) or 0 for n in names], width, label=label)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    paths.append(_save(fig, out / "per_category.png"))
    plt.close(fig)
    if metrics["benchmark"] == "shutdown_targets":
        paths.append(
            safety_vs_helpfulness([(metrics["model"], metrics)], out / "safety_vs_helpfulness.png")
        )
    return paths


def safety_vs_helpfulness(points: list[tuple[str, dict]], path: Path) -> Path:
    """x: success where the user wants something done; y: 1 − wrong-target rate."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, m in points:
        x, y = m.get("actionable_success") or 0, 1 - (m.get("wrong_target_rate") or 0)
        ax.scatter([x], [y], s=60)
        ax.annotate(label, (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("helpfulness: actionable success")
    ax.set_ylabel("safety: 1 − wrong-target rate")
    ax.set_title("safety vs helpfulness")
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return "—" if v is None else str(v)


def _table(head: list[str], body: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in body
    )
    return f"<table><tr>{th}</tr>{trs}</table>"


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
         "font-size:13px;text-align:left}img{max-width:100%}pre{white-space:pre-wrap;font-size:12px}")  # fmt: skip


def render_html(metrics: dict, rows: list[dict], images: list[Path]) -> str:
    """A self-describing page: headline, per-group table, charts, failures with transcripts."""
    shutdown = metrics["benchmark"] == "shutdown_targets"
    cols = SHUTDOWN_COLUMNS if shutdown else TOUCAN_COLUMNS
    parts = [f"<html><head><meta charset='utf-8'><title>ajtrain eval</title><style>{STYLE}</style>"
             f"</head><body><h1>{html.escape(metrics['benchmark'])}: {html.escape(metrics['model'])}</h1>"]  # fmt: skip
    head = ["metric", "value"]
    keys = ("episodes", "scenarios", *cols) if shutdown else ("rows", "calls", *cols)
    body = [[k, metrics.get(k)] for k in keys]
    if shutdown:
        body += [[k, v] for k, v in metrics.get("pass_k", {}).items()]
        body += [["blast radius", metrics["blast_radius"]], ["guard blocked", metrics["guard_blocked"]],
                 ["parse errors", metrics["parse_errors"]], ["truncated", metrics["truncated"]]]  # fmt: skip
    parts.append(_table(head, body))
    groups = metrics.get("per_category" if shutdown else "per_subset", {})
    parts.append("<h2>per category</h2>" if shutdown else "<h2>per subset</h2>")
    parts.append(_table(["group", "n", *cols], [[g, v.get("episodes", v.get("calls")),
                                                 *[v.get(c) for c in cols]] for g, v in groups.items()]))  # fmt: skip
    for img in images:
        parts.append(f"<p><img src='{html.escape(img.name)}' alt='{html.escape(img.stem)}'></p>")
    if shutdown:
        parts.append("<h2>first failed check</h2>")
        parts.append(_table(["check", "episodes"], list(metrics["first_failed_check"].items())))
        failed = [r for r in rows if not r["passed"] and r.get("trial", 0) == 0][:25]
        parts.append(f"<h2>failed episodes (first {len(failed)})</h2>")
        for r in failed:
            detail = (
                "; ".join(f"{v['rule']}: {v['detail']}" for v in r["violations"])
                or r["failed_check"]
            )
            transcript = "\n".join(_line(m) for m in r["messages"])
            parts.append(f"<details><summary>{html.escape(r['id'])} — {html.escape(str(detail))}"
                         f"</summary><pre>{html.escape(transcript)}</pre></details>")  # fmt: skip
    defs = metrics.get("definitions", {})
    parts.append("<h2>definitions</h2><ul>")
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in defs.items()]
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def _line(m: dict) -> str:
    calls = " ".join(f"{c['function']['name']}({c['function'].get('arguments')})"
                     for c in m.get("tool_calls") or [])  # fmt: skip
    text = (m.get("content") or "")[:400]
    return f"[{m['role']}] {text} {calls}".rstrip()


# --- comparing runs ------------------------------------------------------------------------


def load_metrics(d: str | Path) -> dict:
    path = Path(d) / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (is {d} an `ajtrain eval` output directory?)")
    return orjson.loads(path.read_bytes())


def compare(dirs: list[str | Path]) -> list[dict[str, Any]]:
    """One row per results directory: run, model, benchmark, and its headline metrics."""
    rows = []
    for d in dirs:
        m = load_metrics(d)
        cols = SHUTDOWN_COLUMNS if m["benchmark"] == "shutdown_targets" else TOUCAN_COLUMNS
        row = {"run": str(d), "model": m["model"], "benchmark": m["benchmark"]}
        row.update({c: m.get(c) for c in cols})
        row.update(m.get("pass_k", {}))
        rows.append(row)
    return rows


def compare_markdown(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_compare(dirs: list[str | Path], out: Path, charts: bool = True) -> list[dict]:
    """compare.md, compare.html and (shutdown runs) one safety-vs-helpfulness chart of all runs."""
    rows = compare(dirs)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "compare.md", "w") as fh:
        fh.write(compare_markdown(rows))
    keys = list(dict.fromkeys(k for r in rows for k in r))
    parts = [f"<html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>",
             "<h1>ajtrain eval: comparison</h1>", _table(keys, [[r.get(k) for k in keys] for r in rows])]  # fmt: skip
    points = [(Path(r["run"]).name or r["model"], load_metrics(r["run"])) for r in rows
              if r["benchmark"] == "shutdown_targets"]  # fmt: skip
    if charts and points:
        img = safety_vs_helpfulness(points, out / "compare_safety_vs_helpfulness.png")
        parts.append(f"<p><img src='{img.name}'></p>")
    parts.append("</body></html>")
    with atomic_write(out / "compare.html", "w") as fh:
        fh.write("\n".join(parts))
    return rows


def paired(a: str | Path, b: str | Path) -> dict[str, Any]:
    """Run ``a`` against run ``b`` on the episodes both played (same scenario and trial).

    ``a_only``/``b_only``: episodes only that run passed. ``p_value``: the exact two-sided
    McNemar test on them (a binomial test of the discordant episodes at one half): the chance
    of a split at least this uneven if the two were equally good.
    """
    from math import comb

    def passed(d: str | Path) -> dict[tuple, bool]:
        path = Path(d) / "episodes.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found (is {d} an `ajtrain eval` output?)")
        return {(r["id"], r.get("trial", 0)): bool(r["passed"]) for _, r in iter_jsonl(path)}

    pa, pb = passed(a), passed(b)
    both = sorted(pa.keys() & pb.keys())
    a_only = sum(pa[k] and not pb[k] for k in both)
    b_only = sum(pb[k] and not pa[k] for k in both)
    n = a_only + b_only
    tail = sum(comb(n, i) for i in range(min(a_only, b_only) + 1)) / 2**n if n else 1.0
    return {
        "episodes": len(both),
        "a_safe_success": sum(pa[k] for k in both) / len(both) if both else 0.0,
        "b_safe_success": sum(pb[k] for k in both) / len(both) if both else 0.0,
        "a_only": a_only,
        "b_only": b_only,
        "p_value": min(1.0, 2 * tail),
    }
