"""``ajtrain eval`` and ``ajtrain report``: thin wrappers over :func:`evaluate` and
:func:`compare` (the demo and other stages call those directly)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import option
from .runner import EvalConfig

out = Console()


def _cell(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else "—" if v is None else str(v)


def _print_rows(title: str, rows: list[dict], label: str) -> None:
    """One column per row (runs, categories), one line per metric: fits a terminal."""
    table = Table(title=Text(title))  # paths and model names are user text, never markup
    table.add_column("")
    for r in rows:
        table.add_column(Text(str(r.get(label, ""))), justify="right", overflow="fold")
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k != label]
    for k in keys:
        table.add_row(Text(k), *(Text(_cell(r.get(k))) for r in rows))
    out.print(table)


def run_eval(cfg: EvalConfig) -> int:
    """``ajtrain eval``: evaluate and print the headline metrics (per category for shutdown)."""
    from .runner import evaluate, headline

    metrics = evaluate(cfg)
    _print_rows(
        f"{cfg.benchmark} → {cfg.out}", [{"model": metrics["model"], **headline(metrics)}], "model"
    )
    if metrics["benchmark"] == "shutdown_targets":
        cats = [{"category": c, **{k: v.get(k) for k in ("episodes", "safe_success",
                 "wrong_target_rate", "over_ask_rate")}} for c, v in metrics["per_category"].items()]  # fmt: skip
        table = Table(title="per category")
        for k in cats[0]:
            table.add_column(k, justify="left" if k == "category" else "right")
        for c in cats:
            table.add_row(*(_cell(v) for v in c.values()))
        out.print(table)
    return 0


BENCHMARKS = ("shutdown_targets", "toucan_calls")


def check_results_dir(d: str) -> None:
    """Refuse a results directory whose metrics.json the comparison cannot read, naming the file
    and the field (a hand-edited or foreign file used to end in a KeyError)."""
    path = Path(d) / "metrics.json"
    if not path.is_file():
        raise ValueError(f"{path}: not found (is {d} an `ajtrain eval` output directory?)")
    try:
        m = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(m, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(m).__name__}")
    if m.get("benchmark") not in BENCHMARKS:
        raise ValueError(f"{path}: field 'benchmark' is {m.get('benchmark')!r}; expected one of "
                         f"{BENCHMARKS} (written by `ajtrain eval`)")  # fmt: skip
    if not isinstance(m.get("model"), str):
        raise ValueError(f"{path}: field 'model' is missing or not a string")
    for key in ("per_category", "pass_k", "config"):
        if not isinstance(m.get(key, {}), dict):
            raise ValueError(f"{path}: field '{key}' must be an object")


@dataclass
class ReportConfig:
    dirs: list[str] = option(
        [], help="results directories written by `ajtrain eval --out`", flags=("--compare",),
        nargs="+", metavar="DIR",
    )  # fmt: skip
    rescore: str = option(
        "", metavar="DIR", help="score the episodes saved in DIR (an `ajtrain eval` output) again "
        "with this version's checker, running no model, into a new results directory (--out); "
        "prints the old run beside the new one",
    )  # fmt: skip
    out: str = option("", help="directory for compare.md, compare.html and the chart; with "
                      "--rescore, the new results directory")  # fmt: skip


def run_report(cfg: ReportConfig) -> int:
    """``ajtrain report``: print (and with ``out``, write) the comparison of results dirs, or
    score a run again (``--rescore``)."""
    from .report import compare, write_compare

    if bool(cfg.dirs) == bool(cfg.rescore):
        raise ValueError("give --compare DIR [DIR ...] or --rescore DIR (one of the two)")
    if cfg.rescore:
        from .rescore import rescore

        if not cfg.out:
            raise ValueError("--rescore needs --out: the new results directory")
        check_results_dir(cfg.rescore)
        metrics = rescore(cfg.rescore, cfg.out)
        _print_rows("scored again", compare([cfg.rescore, cfg.out]), "run")
        changed = metrics["rescored"]["changed"]
        out.print(Text(f"{len(changed)} episode(s) changed verdict"
                       + (f": {', '.join(changed)}" if changed else "")))  # fmt: skip
        out.print(Text(f"wrote {cfg.out}/metrics.json, episodes.jsonl and report.html"))
        return 0
    for d in cfg.dirs:
        check_results_dir(d)
    rows = write_compare(cfg.dirs, Path(cfg.out)) if cfg.out else compare(cfg.dirs)
    _print_rows("comparison", rows, "run")
    if cfg.out:
        out.print(Text(f"wrote {cfg.out}/compare.md and compare.html"))
    return 0
