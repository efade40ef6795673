"""Score the episodes of an earlier run again, with today's checker, without running any model.

Scoring is a pure function of a scenario and a transcript (``scoring.score_episode``), so when the
checker's reading of a rule changes, every saved ``episodes.jsonl`` can be judged again: the same
transcripts, the new verdicts. The run's model, configuration and timing are kept; ``metrics.json``
gains ``rescored`` (where from, and how many episodes changed verdict).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..records import iter_jsonl
from ..shutdown.scenario import Scenario
from .runner import EvalConfig, select_scenarios
from .scoring import aggregate, score_episode

# Fields of a saved episode row that re-scoring reads.
_NEEDED = ("id", "messages", "truncated", "parse_errors")
# What the new metrics keep from the old ones (the rest is recomputed from the rows).
_KEPT = ("benchmark", "model", "config", "timing", "trials_replicated", "definitions")


def _scenarios(config: dict[str, Any], where: Path) -> dict[str, Scenario]:
    """The run's scenarios, rebuilt from its saved configuration (built-in, --scenarios or
    --fleet), by id."""
    known = {f.name for f in dataclasses.fields(EvalConfig)}
    cfg = EvalConfig(**{k: v for k, v in config.items() if k in known})
    try:
        return {s.id: s for s in select_scenarios(cfg)}
    except (OSError, ValueError) as e:
        raise ValueError(f"{where}: cannot rebuild the run's scenarios from its config: {e}") from e


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The saved episode rows with their line numbers."""
    if not path.is_file():
        raise ValueError(
            f"{path}: not found (is {path.parent} an `ajtrain eval` output directory?)"
        )
    rows = []
    for n, row in iter_jsonl(path):
        missing = [k for k in _NEEDED if not isinstance(row, dict) or k not in row]
        if missing:
            raise ValueError(f"{path}:{n}: field '{missing[0]}' is missing")
        rows.append((n, row))
    if not rows:
        raise ValueError(f"{path}: no episodes to score")
    return rows


def rescore(run_dir: str | Path, out: str | Path, charts: bool = True) -> dict[str, Any]:
    """Judge ``run_dir``'s episodes again and write a results directory at ``out`` (never over
    ``run_dir``); returns the new metrics."""
    from .report import load_metrics, write_results

    run_dir, out = Path(run_dir), Path(out)
    if out.resolve() == run_dir.resolve():
        raise ValueError(f"--out {out}: choose another directory than the run's own")
    metrics_path = run_dir / "metrics.json"
    old = load_metrics(run_dir)  # `ajtrain report` checks the file first (check_results_dir)
    if not isinstance(old, dict) or old.get("benchmark") != "shutdown_targets":
        raise ValueError(f"{metrics_path}: field 'benchmark' is "
                         f"{old.get('benchmark') if isinstance(old, dict) else None!r}; only "
                         "shutdown_targets runs have a checker to score them again")  # fmt: skip
    scenarios = _scenarios(old.get("config") or {}, metrics_path)
    episodes = run_dir / "episodes.jsonl"
    rows, changed = [], []
    for n, row in _rows(episodes):
        scenario = scenarios.get(row["id"])
        if scenario is None:
            raise ValueError(f"{episodes}:{n}: field 'id' is {row['id']!r}, not a scenario of "
                             "this run's benchmark")  # fmt: skip
        try:
            score = score_episode(scenario, row["messages"],
                                  blocked=row.get("blocked_calls") or [],
                                  truncated=bool(row["truncated"]),
                                  parse_errors=int(row["parse_errors"]))  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{episodes}:{n}: field 'messages' is not a transcript the checker "
                             f"can replay ({type(e).__name__}: {e})") from None  # fmt: skip
        if score["passed"] != row.get("passed"):
            changed.append(row["id"])
        rows.append({**row, **score})
    metrics = {k: old[k] for k in _KEPT if k in old}
    metrics.update(aggregate(rows))
    metrics["rescored"] = {"from": str(run_dir), "episodes_changed": len(changed),
                           "changed": changed}  # fmt: skip
    write_results(out, metrics, rows, charts=charts)
    return metrics
