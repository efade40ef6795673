"""``ajtrain generate``: verified shutdown trajectories (its ``--load-dataset toucan`` form, the
original guide's spelling of ``ajtrain load toucan``, is routed in ``ajtrain.cli``)."""

from __future__ import annotations

import random
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
    staged_guesses: float = option(
        0.0, help="share of ambiguous requests (0-1) played with a staged wrong guess: the agent "
        "proposes a machine the user did not mean (a turn of weight 0, not trained on), the user "
        "corrects it and the expert confirms the named machine; teaches that a correction is not "
        "a yes. 0 leaves the data unchanged",
    )  # fmt: skip
    staged_bulk: float = option(
        0.0, help="share of bulk requests (0-1) played with a staged wrong set: the agent "
        "proposes the matching machines but one (a turn of weight 0), the user lists the ones "
        "meant and the expert confirms that list; teaches to take the user's list over its own "
        "proposal. 0 leaves the data unchanged",
    )  # fmt: skip
    near_misses: float | None = option(
        None, help="share of explicit requests (0-1) whose fleet also holds near-duplicates of the "
        "named machine (Domain02, domain-02, domain020 beside domain02): teaches that a name shown "
        "exactly is there even when look-alikes are too. Procedural fleets only; default 0.4, "
        "the benchmark's share",
    )  # fmt: skip
    bulk_look_alikes: float | None = option(
        None, help="chance (0-1) of each of two look-alikes outside a bulk request's pattern "
        "(web01 and webx-01 beside web-*) in its fleet: teaches to copy only the machines the "
        "pattern matches. Procedural fleets only; default 0.5, the benchmark's",
    )  # fmt: skip
    categories: str | None = option(
        None, help="only these categories, comma-separated (e.g. bulk_confirmation,ambiguous): "
        "--n is shared among them in the usual proportions; default all",
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
    from .policies import Expert, StagedGuess

    t0 = time.perf_counter()
    if not 0.0 <= cfg.request_noise <= 1.0:
        raise ValueError(f"--request-noise {cfg.request_noise}: expected a share from 0 to 1")
    for flag, share in (
        ("--staged-guesses", cfg.staged_guesses),
        ("--staged-bulk", cfg.staged_bulk),
        ("--near-misses", 0.0 if cfg.near_misses is None else cfg.near_misses),
        ("--bulk-look-alikes", 0.0 if cfg.bulk_look_alikes is None else cfg.bulk_look_alikes),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{flag} {share}: expected a share from 0 to 1")
    cats = _categories(cfg.categories)
    for flag, share in (("--near-misses", cfg.near_misses),
                        ("--bulk-look-alikes", cfg.bulk_look_alikes)):  # fmt: skip
        if share is not None and cfg.fleet is not None:
            raise ValueError(f"{flag}: only for procedural fleets (the scenarios on --fleet "
                             "use the look-alikes your inventory has)")  # fmt: skip
    if cfg.n is not None and cfg.n < 1:
        raise ValueError(f"--n {cfg.n}: expected a number of trajectories of at least 1")
    if cfg.n is None and cfg.fleet is None:
        scenarios = [s for s in canonical_scenarios() if s.category in cats]
    else:
        fleet = load_fleet(cfg.fleet) if cfg.fleet else None
        scenarios = procedural_scenarios(cfg.n if cfg.n is not None else 20, cfg.seed,
                                         fleet=fleet, request_noise=cfg.request_noise,
                                         categories=cats, near_misses=cfg.near_misses,
                                         bulk_look_alikes=cfg.bulk_look_alikes)  # fmt: skip
    total = cfg.n if cfg.n is not None else len(scenarios)
    counts: Counter[str] = Counter()
    openings: set[str] = set()
    # Their own draws: a share of 0 changes nothing, and one share does not move the other's.
    staged_rng = random.Random(f"staged-{cfg.seed}")
    bulk_rng = random.Random(f"staged-bulk-{cfg.seed}")
    n_staged = 0
    with atomic_write(cfg.out) as fh, Progress(console=err, disable=not progress) as bar:
        task = bar.add_task("generating", total=total)
        for scenario in scenarios:
            staged = (
                cfg.staged_guesses > 0
                and scenario.category == "ambiguous"
                and staged_rng.random() < cfg.staged_guesses
            ) or (
                cfg.staged_bulk > 0
                and scenario.category == "bulk_confirmation"
                and bulk_rng.random() < cfg.staged_bulk
            )
            rec = scenario_to_record(scenario, StagedGuess() if staged else Expert())
            n_staged += staged and any(m.get("weight") == 0 for m in rec["messages"])
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
        "staged_guesses": cfg.staged_guesses,
        "staged_bulk": cfg.staged_bulk,
        "near_misses": cfg.near_misses,
        "bulk_look_alikes": cfg.bulk_look_alikes,
        "only_categories": cfg.categories and sorted(cats),
        "staged_guess_trajectories": n_staged,
        "checker": "every trajectory passed",
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(str(cfg.out) + ".stats.json", stats)
    return stats


def _categories(spec: str | None) -> tuple[str, ...]:
    """``--categories a,b`` → the named categories, checked; None → all."""
    from .scenario import CATEGORIES

    if spec is None:
        return CATEGORIES
    names = tuple(dict.fromkeys(c.strip() for c in spec.split(",") if c.strip()))
    unknown = [c for c in names if c not in CATEGORIES]
    if unknown or not names:
        raise ValueError(f"--categories {spec}: unknown {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(CATEGORIES)}")  # fmt: skip
    return names


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
