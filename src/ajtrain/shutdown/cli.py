"""``ajtrain generate``: verified shutdown trajectories (its ``--load-dataset toucan`` form, the
original guide's spelling of ``ajtrain load toucan``, is routed in ``ajtrain.cli``)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ..config import option
from ..records import atomic_write, dumps, write_json

err = Console(stderr=True)
TASK = "shutdown_target_selection"


@dataclass
class GenerateConfig:
    task: str = option(TASK, help="the task to generate trajectories for", choices=[TASK])
    n: int | None = option(
        None, help="write N procedurally varied trajectories instead of the canonical 20"
    )
    seed: int = option(0, help="random seed: the same seed gives byte-identical output")
    fleet: str | None = option(
        None, help="your own inventory (YAML/JSON): build the scenarios on it"
    )
    request_noise: float = option(
        0.0, help="share of opening requests (0-1) wrapped in 1-3 made-up words ('vobe fi: Shut "
        "down web7'): for a model that knows no English, such as the tiny demo model, so that "
        "words it has never seen do not derail it; 0 for data as users write it",
    )  # fmt: skip
    out: str = option("data/shutdown_trajectories.jsonl", help="output JSONL file")
    load_dataset: str | None = option(
        None, help="the original guide's form: load an open dataset instead (same as `ajtrain load`)",
        choices=["toucan"])  # fmt: skip


def generate(cfg: GenerateConfig, progress: bool = True) -> dict:
    """Write the trajectories; returns the stats stored beside them (``<out>.stats.json``)."""
    from ..fleet import load_fleet
    from .canonical import canonical_scenarios
    from .generate import procedural_scenarios, scenario_to_record

    t0 = time.perf_counter()
    if not 0.0 <= cfg.request_noise <= 1.0:
        raise ValueError(f"--request-noise {cfg.request_noise}: expected a share from 0 to 1")
    if cfg.n is not None and cfg.n < 1:
        raise ValueError(f"--n {cfg.n}: expected a number of trajectories of at least 1")
    if cfg.n is None and cfg.fleet is None:
        scenarios = canonical_scenarios()
    else:
        fleet = load_fleet(cfg.fleet) if cfg.fleet else None
        scenarios = procedural_scenarios(cfg.n if cfg.n is not None else 20, cfg.seed,
                                         fleet=fleet, request_noise=cfg.request_noise)  # fmt: skip
    total = cfg.n if cfg.n is not None else 20
    counts: Counter[str] = Counter()
    openings: set[str] = set()
    with atomic_write(cfg.out) as fh, Progress(console=err, disable=not progress) as bar:
        task = bar.add_task("generating", total=total)
        for scenario in scenarios:
            rec = scenario_to_record(scenario)
            fh.write(dumps(rec).encode() + b"\n")
            counts[rec["category"]] += 1
            openings.add(scenario.request)
            bar.advance(task)
    stats = {
        "task": cfg.task,
        "written": sum(counts.values()),
        "categories": dict(sorted(counts.items())),
        "distinct_opening_requests": len(openings),
        "seed": cfg.seed,
        "fleet": cfg.fleet,
        "request_noise": cfg.request_noise,
        "checker": "every trajectory passed",
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(str(cfg.out) + ".stats.json", stats)
    return stats


def run(cfg: GenerateConfig) -> int:
    """``ajtrain generate``: write the trajectories and print their count per category."""
    stats = generate(cfg)
    table = Table(title=Text(f"{stats['written']} verified trajectories → {cfg.out}"))
    table.add_column("category")
    table.add_column("count", justify="right")
    for cat, k in stats["categories"].items():
        table.add_row(cat, str(k))
    Console().print(table)
    return 0
