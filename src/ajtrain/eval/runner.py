"""``evaluate(EvalConfig)``: run a benchmark against a backend and write the results.

Shutdown episodes are stepped together: each round collects every running episode's next turn
in one backend call (one batched ``generate`` for a model directory), applies the replies, and
lets the simulated user answer, until all episodes are over.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from ..config import option
from ..fleet import tool_schemas
from ..shutdown.episode import Episode
from ..shutdown.scenario import CATEGORIES, Scenario
from .backends import Backend, Request, make_backend
from .scoring import DEFINITIONS, aggregate, score_episode

err = Console(stderr=True)
BENCHMARKS = ("shutdown_targets", "toucan_calls")


@dataclass
class EvalConfig:
    model: str = option(
        "", required=True, help="a model directory (transformers), 'openai:MODEL' (with --base-url), "
        "or 'scripted:oracle' / 'scripted:naive' / 'scripted:cautious'",
    )  # fmt: skip
    benchmark: str = option("shutdown_targets", choices=list(BENCHMARKS),
                            help="shutdown_targets (held-out safety episodes) or toucan_calls "
                            "(next-call accuracy on held-out Toucan rows, needs --data)")  # fmt: skip
    out: str = option("results", help="output directory: metrics.json, episodes.jsonl, report.html")
    trials: int = option(1, help="runs per scenario; pass^k is reported for k = 1..trials")
    scenarios: str | None = option(None, help="your own scenarios (JSONL of Scenario dicts) "
                                   "instead of the built-in benchmark")  # fmt: skip
    fleet: str | None = option(
        None, help="your own inventory (YAML/JSON): build the scenarios on it, phrased as the "
        "benchmark's are (never as the training data's)",
    )  # fmt: skip
    fleet_scenarios: int = option(100, help="with --fleet: how many scenarios to build")
    categories: list[str] = option([], help=f"only these categories ({', '.join(CATEGORIES)})")
    data: str | None = option(None, help="toucan_calls: held-out records (JSONL)")
    limit: int = option(0, help="only N scenarios, taken round-robin over categories (toucan_calls: "
                        "the first N rows); 0: all")  # fmt: skip
    guard: bool = option(False, help="wrap every episode in the runtime guard (ajtrain.guard)")
    base_url: str = option("", help="openai: the endpoint, e.g. http://localhost:8000/v1")
    api_key_env: str = option("OPENAI_API_KEY", help="openai: environment variable with the key")
    concurrency: int = option(8, help="openai: requests in flight at once")
    timeout_s: float = option(120.0, help="openai: seconds to wait for one reply")
    batch_size: int = option(64, help="model dir: prompts per generate call (1: one at a time)")
    max_new_tokens: int = option(256, help="model dir / openai: token limit of one turn")
    temperature: float = option(0.0, help="0: greedy (trials are identical, run once); > 0: "
                                "sampling, every trial run")  # fmt: skip
    seed: int = option(0, help="sampling seed: an endpoint gets seed + trial per request; a model "
                       "dir seeds each generate call, so a run repeats exactly for a given seed")  # fmt: skip
    shared_prefix: bool = option(True, help="model dir: prefill the batch's common prompt prefix "
                                 "once and share its KV cache")  # fmt: skip
    kv_reuse: bool = option(True, help="model dir: keep each episode's KV cache from turn to "
                            "turn, so a round prefills only the new text")  # fmt: skip
    max_in_flight: int = option(0, help="episodes running at once (0: all); a model dir keeps "
                                "each running episode's KV cache, so this bounds its memory")  # fmt: skip
    device: str = option("auto", help="model dir: 'auto', 'cpu', 'cuda', 'cuda:1', ...")
    dtype: str = option("auto", help="model dir: weights' precision: 'auto' (bfloat16 on a GPU "
                        "that has it, else float32), 'float32' or 'bfloat16' (faster matrix products "
                        "on a CPU with AVX512-BF16; greedy replies may differ from float32)")  # fmt: skip
    charts: bool = option(True, help="write PNG charts into report.html (needs matplotlib)")


def select_scenarios(cfg: EvalConfig) -> list[Scenario]:
    """The scenarios to run: --scenarios, --fleet, or the built-in benchmark; then filters."""
    if cfg.scenarios and cfg.fleet:
        raise ValueError("give --scenarios or --fleet, not both")
    if cfg.scenarios:
        from ..shutdown.benchmark import load_scenarios

        scenarios = load_scenarios(cfg.scenarios)
    elif cfg.fleet:
        from ..fleet import load_fleet
        from ..shutdown.generate import procedural_scenarios

        # The names are the user's own, which training on this fleet uses too: the phrasings
        # come from the benchmark's pool, so no request is one the model was trained on.
        fleet = load_fleet(cfg.fleet)
        scenarios = list(
            procedural_scenarios(cfg.fleet_scenarios, cfg.seed, pool="bench", fleet=fleet)
        )
    else:
        from ..shutdown.benchmark import build_benchmark

        scenarios = build_benchmark()
    unknown = set(cfg.categories) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"--categories: unknown {sorted(unknown)}; choose from {CATEGORIES}")
    if cfg.categories:
        scenarios = [s for s in scenarios if s.category in cfg.categories]
    if cfg.limit:
        scenarios = spread(scenarios, cfg.limit)
    if not scenarios:
        raise ValueError("no scenarios left to run (check --categories / --limit)")
    return scenarios


def spread(scenarios: list[Scenario], n: int) -> list[Scenario]:
    """The first ``n`` scenarios taken round-robin over categories, so a quick run sees them all."""
    by_cat: dict[str, list[Scenario]] = {}
    for s in scenarios:
        by_cat.setdefault(s.category, []).append(s)
    out: list[Scenario] = []
    queues = [iter(v) for v in by_cat.values()]
    while len(out) < n and queues:
        for q in list(queues):
            s = next(q, None)
            if s is None:
                queues.remove(q)
            elif len(out) < n:
                out.append(s)
    return out


@dataclass
class Run:
    scenario: Scenario
    trial: int
    episode: Episode
    parse_errors: list[str]


def _guard_factory(enabled: bool):
    if not enabled:
        return lambda: None
    from ..guard import TargetGuard  # lazily: the guard is its own stage

    return TargetGuard


def run_episodes(
    scenarios: list[Scenario],
    backend: Backend,
    trials: int = 1,
    guard: bool = False,
    seed: int = 0,
    progress: bool = True,
    max_in_flight: int = 0,
) -> list[Run]:
    """Play every scenario ``trials`` times; all running episodes advance together per round.
    ``max_in_flight`` > 0 caps how many run at once (a model directory keeps each running
    episode's KV cache: about 10 GB for all 311 benchmark episodes on Gemma 3 270M); a finished
    episode's place goes to the next waiting one."""
    make_guard = _guard_factory(guard)
    runs = [
        Run(s, t, Episode(s, user_pool="bench", guard=make_guard()), [])
        for t in range(trials)
        for s in scenarios
    ]
    tools = tool_schemas()
    rounds, t0 = 0, time.perf_counter()
    with Progress(console=err, disable=not progress, transient=True) as bar:
        task = bar.add_task(f"episodes ({backend.name})", total=len(runs))
        cap = max_in_flight if max_in_flight > 0 else len(runs)
        active, waiting = runs[:cap], runs[cap:]
        while active:
            requests = [
                Request(f"{r.scenario.id}#{r.trial}", r.episode.messages, tools,
                        seed=seed + r.trial, scenario=r.scenario)
                for r in active
            ]  # fmt: skip
            for r, parsed in zip(active, backend.complete(requests), strict=True):
                r.parse_errors.extend(parsed.errors)
                if parsed.stop in ("overflow", "error"):  # the turn could not be produced
                    r.episode.done = r.episode.truncated = True
                else:
                    r.episode.advance(parsed.message)
            still = [r for r in active if not r.episode.done]
            release = getattr(backend, "release", None)  # a model dir's per-episode KV caches
            for r in active:
                if release is not None and r.episode.done:
                    release(f"{r.scenario.id}#{r.trial}")
            bar.advance(task, len(active) - len(still))
            active = still + waiting[: cap - len(still)]
            waiting = waiting[cap - len(still) :]
            rounds += 1
            if progress and not err.is_terminal:  # the bar is hidden off a terminal: log lines
                err.print(f"eval: round {rounds}: {len(runs) - len(active) - len(waiting)}/{len(runs)} episodes "
                          f"done, {time.perf_counter() - t0:.0f} s", markup=False, highlight=False)  # fmt: skip
    return runs


def _replicate(runs: list[Run], trials: int) -> list[tuple[Run, int]]:
    """A deterministic backend gives the same transcript every trial: score it ``trials`` times."""
    return [(r, t) for t in range(trials) for r in runs]


def evaluate_shutdown(
    cfg: EvalConfig, backend: Backend, progress: bool = True
) -> tuple[dict, list]:
    """Run and score the shutdown benchmark; returns (metrics, episode rows)."""
    scenarios = select_scenarios(cfg)
    replicated = backend.deterministic and cfg.trials > 1
    t0 = time.perf_counter()
    runs = run_episodes(scenarios, backend, 1 if replicated else cfg.trials, cfg.guard,
                        cfg.seed, progress, cfg.max_in_flight)  # fmt: skip
    seconds = time.perf_counter() - t0
    pairs = _replicate(runs, cfg.trials) if replicated else [(r, r.trial) for r in runs]
    rows = []
    for r, trial in pairs:
        ep = r.episode
        score = score_episode(r.scenario, ep.messages, blocked=ep.blocked,
                              truncated=ep.truncated, parse_errors=len(r.parse_errors))  # fmt: skip
        rows.append({
            **score, "trial": trial, "turns": ep.assistant_turns,
            "intent": asdict(r.scenario.intent),  # hidden from the agent; shown in report.html
            "history_turns": len(r.scenario.history),
            "parse_error_details": r.parse_errors,
            "blocked_calls": [{"call": b["call"], "reason": b["reason"]} for b in ep.blocked],
            "messages": ep.messages,
        })  # fmt: skip
    metrics = aggregate(rows)
    metrics["timing"] = {
        "seconds": round(seconds, 3),
        "episodes_run": len(runs),
        "episodes_per_s": round(len(runs) / seconds, 3) if seconds > 0 else None,
    }
    metrics["trials_replicated"] = replicated
    metrics["definitions"] = DEFINITIONS
    return metrics, rows


def evaluate(cfg: EvalConfig, backend: Backend | None = None, progress: bool = True) -> dict:
    """Run ``cfg.benchmark`` and write ``metrics.json``, ``episodes.jsonl`` and ``report.html``
    into ``cfg.out``; returns the metrics. ``backend`` overrides the one ``cfg.model`` names."""
    from .report import write_results

    if cfg.trials < 1:
        raise ValueError("--trials must be at least 1")
    backend = backend or make_backend(cfg)
    if cfg.benchmark == "shutdown_targets":
        metrics, rows = evaluate_shutdown(cfg, backend, progress)
    elif cfg.benchmark == "toucan_calls":
        from .toucan_calls import evaluate_toucan_calls

        metrics, rows = evaluate_toucan_calls(cfg, backend, progress)
    else:
        raise ValueError(f"unknown benchmark {cfg.benchmark!r}; choose from {BENCHMARKS}")
    metrics = {
        "benchmark": cfg.benchmark,
        "model": backend.name,
        "config": asdict(cfg),
        **metrics,
    }
    write_results(Path(cfg.out), metrics, rows, charts=cfg.charts)
    return metrics


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The few numbers worth printing after a run."""
    if metrics["benchmark"] == "toucan_calls":
        keys = (
            "rows",
            "calls",
            "name_accuracy",
            "call_accuracy",
            "exact_set_accuracy",
            "no_call_rate",
        )
    else:
        keys = ("episodes", "safe_success", "wrong_target_rate", "unconfirmed_action_rate",
                "ungrounded_action_rate", "over_ask_rate", "recovery_success", "unsafe_actions",
                "bulk_first_proposal_exact", "guard_blocked", "parse_errors", "truncated")  # fmt: skip
    out = {k: metrics.get(k) for k in keys}
    out.update(metrics.get("pass_k", {}))
    return out
