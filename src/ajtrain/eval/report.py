"""Results on disk: ``metrics.json``, ``episodes.jsonl`` (every transcript), ``report.html`` with
PNG charts beside it, and :func:`compare` for a side-by-side table of several runs."""

from __future__ import annotations

import functools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from ..records import atomic_write, iter_jsonl, write_json
from ..transcript import executed_view
from .scoring import DEFINITIONS

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
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=10)
    ax.tick_params(axis="y", labelsize=10)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=12)
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    paths.append(_save(fig, out / "per_category.png"))
    plt.close(fig)
    if metrics["benchmark"] == "shutdown_targets":
        paths.append(
            safety_vs_helpfulness([(metrics["model"], metrics)], out / "safety_vs_helpfulness.png")
        )
    return paths


def safety_vs_helpfulness(points: list[tuple[str, dict]], path: Path) -> Path:
    """x: success where the user wants something done; y: 1 − wrong-target rate. Runs are told
    apart by marker and colour in a legend (runs often share a point: labels would overlap)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    markers = "osD^vP*Xh<>"
    for k, (label, m) in enumerate(points):
        x, y = m.get("actionable_success") or 0, 1 - (m.get("wrong_target_rate") or 0)
        ax.scatter([x], [y], s=90, marker=markers[k % len(markers)], alpha=0.8,
                   label=f"{label}  ({x:.2f}, {y:.2f})")  # fmt: skip
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("helpfulness: actionable success", fontsize=11)
    ax.set_ylabel("safety: 1 − wrong-target rate", fontsize=11)
    ax.set_title("safety vs helpfulness (top right is best)", fontsize=12)
    ax.tick_params(labelsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    _save(fig, path)
    plt.close(fig)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return "—" if v is None else str(v)


def _label(key: str) -> str:
    """A column name as a header: ``wrong_target_rate`` -> ``wrong target rate``."""
    return key.replace("_", " ")


@functools.cache
def _templates():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=_fmt, label=_label)
    return env


def _pretty(text: str) -> str:
    """Tool output in full (never cut, so never cut mid-JSON): a list of objects one per line,
    other JSON indented, anything else as it is."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join("  " + orjson.dumps(v).decode() for v in value) + "\n]"
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _intent_text(intent: dict | None) -> str:
    if not intent:
        return "not recorded in this run"
    parts = []
    if intent.get("targets"):
        parts.append("shut down exactly " + ", ".join(intent["targets"]))
    if intent.get("restore"):
        parts.append("start again " + ", ".join(intent["restore"]))
    if intent.get("query"):
        parts.append(f"only asks about {intent['query']} (read-only)")
    if not parts:
        parts.append("nothing can be determined: nothing should be shut down")
    if not intent.get("can_clarify", True):
        parts.append("the user cannot clarify")
    return "; ".join(parts)


def episode_view(row: dict) -> dict:
    """One episode for the report: turns by role, the rule-breaking turn flagged, guard refusals
    marked, the hidden intent in words."""
    messages = row.get("messages") or []
    blocked = row.get("blocked_calls") or []
    refused = {b["call"].get("id"): b["reason"] for b in blocked}
    # Violations index the executed view (refused calls taken out): map back to the transcript.
    view = executed_view([{**m, "_i": i} for i, m in enumerate(messages)], blocked)
    flagged: dict[int, list[dict]] = {}
    for v in row.get("violations") or []:
        i = v.get("message_index")
        if isinstance(i, int) and 0 <= i < len(view):
            flagged.setdefault(view[i]["_i"], []).append(v)
    history = 1 + row.get("history_turns", 0)  # system prompt + earlier turns
    turns = []
    for i, m in enumerate(messages):
        if i == 0 and m["role"] == "system":
            continue  # the same in every episode: shown once, above the episodes
        content = m.get("content") or ""
        calls = [{"name": c["function"]["name"], "arguments": c["function"].get("arguments") or "",
                  "blocked": refused.get(c.get("id"))} for c in m.get("tool_calls") or []]  # fmt: skip
        turns.append({"role": m["role"], "name": m.get("name") if m["role"] == "tool" else "",
                      "content": _pretty(content) if m["role"] == "tool" else content,
                      "calls": calls, "violations": flagged.get(i, []),
                      "history": 0 < i < history})  # fmt: skip
    violations = row.get("violations") or []
    first = f"{violations[0]['rule']}: {violations[0]['detail']}" if violations else ""
    return {
        "id": row["id"], "category": row.get("category", ""), "trial": row.get("trial", 0),
        "passed": bool(row.get("passed")), "detail": first or row.get("failed_check") or "",
        "more": max(0, len(violations) - 1),
        "violations": [f"{v['rule']}: {v['detail']}" for v in violations],
        "intent": _intent_text(row.get("intent")), "turns": turns,
        "wrong_targets": [w["name"] for w in row.get("wrong_targets") or []],
    }  # fmt: skip


def render_html(metrics: dict, rows: list[dict], images: list[Path]) -> str:
    """report.html: headline, per-group table, charts, and every episode, filterable."""
    shutdown = metrics["benchmark"] == "shutdown_targets"
    cols = SHUTDOWN_COLUMNS if shutdown else TOUCAN_COLUMNS
    defs = metrics.get("definitions", {})
    keys = ("episodes", "scenarios", *cols) if shutdown else ("rows", "calls", *cols)
    headline = [(_label(k), metrics.get(k), defs.get(k, "")) for k in keys]
    if shutdown:
        headline += [(k, v, defs.get("pass^k", "")) for k, v in metrics.get("pass_k", {}).items()]
        headline += [(_label(k), metrics.get(k), defs.get(k, "")) for k in
                     ("blast_radius", "guard_blocked", "parse_errors", "truncated")]  # fmt: skip
    groups = metrics.get("per_category" if shutdown else "per_subset", {})
    config = metrics.get("config") or {}
    subtitle = ", ".join(
        f"{k}: {_fmt(config[k])}" for k in ("trials", "limit", "seed") if k in config
    )
    subtitle = f"guard: {'yes' if config.get('guard') else 'no'}, {subtitle}"
    episodes = [episode_view(r) for r in rows] if shutdown else []
    return _templates().get_template("report.html.jinja").render(
        benchmark=metrics["benchmark"], model=metrics["model"], subtitle=subtitle,
        headline=headline, definitions=defs,
        group_name="category" if shutdown else "subset", group_columns=["n", *cols],
        groups=[(g, [v.get("episodes", v.get("calls")), *(v.get(c) for c in cols)])
                for g, v in groups.items()],
        images=[{"name": p.name, "alt": _label(p.stem)} for p in images],
        failed_checks=list(metrics.get("first_failed_check", {}).items()),
        episodes=episodes, categories=sorted({e["category"] for e in episodes}),
        system_prompt=next((r["messages"][0]["content"] for r in rows if r.get("messages")
                            and r["messages"][0]["role"] == "system"), ""),
    )  # fmt: skip


# --- comparing runs ------------------------------------------------------------------------


def load_metrics(d: str | Path) -> dict:
    path = Path(d) / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (is {d} an `ajtrain eval` output directory?)")
    return orjson.loads(path.read_bytes())


def _guarded(m: dict) -> bool:
    return bool((m.get("config") or {}).get("guard"))


def compare(dirs: list[str | Path]) -> list[dict[str, Any]]:
    """One row per results directory: run, model, guard, benchmark, its headline metrics."""
    rows = []
    for d in dirs:
        m = load_metrics(d)
        cols = SHUTDOWN_COLUMNS if m["benchmark"] == "shutdown_targets" else TOUCAN_COLUMNS
        row = {"run": str(d), "model": m["model"], "guard": _guarded(m),
               "benchmark": m["benchmark"]}  # fmt: skip
        row.update({c: m.get(c) for c in cols})
        if m["benchmark"] == "shutdown_targets":
            row["guard_blocked"] = m.get("guard_blocked")
        row.update(m.get("pass_k", {}))
        rows.append(row)
    return rows


def compare_markdown(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _run_labels(rows: list[dict]) -> list[str]:
    """Short, unique names for the runs: the directory name (+ '#k' when two share it)."""
    labels, seen = [], Counter()
    for r in rows:
        name = Path(r["run"]).name or r["model"]
        seen[name] += 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def _benchmark_section(name: str, runs: list[dict], base: dict) -> dict:
    """One benchmark's tables: headline per run, per-category deltas, paired tests."""
    cols = list(SHUTDOWN_COLUMNS if name == "shutdown_targets" else TOUCAN_COLUMNS)
    keys = list(dict.fromkeys(k for r in runs for k in r["row"] if k.startswith("pass^")))
    if name == "shutdown_targets":
        cols.append("guard_blocked")
    section = {"name": name, "columns": cols + keys, "runs": [], "categories": [], "paired": []}
    for r in runs:
        section["runs"].append({**r, "cells": [r["row"].get(c) for c in cols + keys]})
    if name != "shutdown_targets":
        return section
    same = base["metrics"]["benchmark"] == name
    cats = sorted({c for r in runs for c in r["metrics"].get("per_category", {})})
    base_cats = base["metrics"].get("per_category", {}) if same else {}
    for c in cats:
        cells = []
        for r in runs:
            v = r["metrics"].get("per_category", {}).get(c, {}).get("safe_success")
            b = base_cats.get(c, {}).get("safe_success")
            delta = v - b if r is not base and v is not None and b is not None else None
            cells.append({"value": v, "delta": delta})
        section["categories"].append({"name": c, "cells": cells})
    if same:
        section["paired"] = [{"label": r["label"], **paired(base["run"], r["run"])}
                             for r in runs if r is not base]  # fmt: skip
    return section


def write_compare(dirs: list[str | Path], out: Path, charts: bool = True) -> list[dict]:
    """compare.md and compare.html (headline per run with its guard, per-category deltas and the
    paired test against the first run, links to each run's report) plus, for shutdown runs, one
    safety-vs-helpfulness chart of all runs."""
    rows = compare(dirs)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "compare.md", "w") as fh:
        fh.write(compare_markdown(rows))
    runs = [{"run": r["run"], "label": label, "model": r["model"], "guard": r["guard"], "row": r,
             "metrics": load_metrics(r["run"]),
             "href": os.path.relpath(Path(r["run"]) / "report.html", out)}
            for r, label in zip(rows, _run_labels(rows), strict=True)]  # fmt: skip
    benches = list(dict.fromkeys(r["row"]["benchmark"] for r in runs))
    sections = [_benchmark_section(b, [r for r in runs if r["row"]["benchmark"] == b], runs[0])
                for b in benches]  # fmt: skip
    points = [(r["label"], r["metrics"]) for r in runs
              if r["row"]["benchmark"] == "shutdown_targets"]  # fmt: skip
    image = None
    if charts and points:
        image = safety_vs_helpfulness(points, out / "compare_safety_vs_helpfulness.png").name
    title = "ajtrain eval: " + " vs ".join(r["label"] for r in runs[:4])
    title += f" (+{len(runs) - 4} more)" if len(runs) > 4 else ""
    html_text = (
        _templates()
        .get_template("compare.html.jinja")
        .render(title=title, runs=runs, benchmarks=sections, image=image, definitions=DEFINITIONS)
    )
    with atomic_write(out / "compare.html", "w") as fh:
        fh.write(html_text)
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
