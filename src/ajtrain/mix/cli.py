"""``ajtrain mix``: a thin wrapper over :func:`ajtrain.mix.run_mix`."""

from __future__ import annotations

import dataclasses

from ..config import option


@dataclasses.dataclass
class MixConfig:
    recipe: str = option(
        "safety",
        help="built-in recipe (safety: 10,000 = 500 shutdown + 9,500 Toucan; general: 500,000, "
        "~1%% shutdown) or a recipe YAML file",
    )
    out: str | None = option(
        None,
        help="output directory for train.jsonl, val.jsonl, manifest.json, composition.png "
        "(default: data/mix_<recipe name>)",
    )
    source: list[str] = option(
        [],
        help="replace a source's path or glob, as NAME=PATH; repeat for several sources "
        "(e.g. --source shutdown=gen/shutdown.jsonl)",
        action="append",
        nargs=None,
        metavar="NAME=PATH",
    )
    seed: int | None = option(None, help="override the recipe's seed (sampling, split, order)")
    allow_oversample: bool | None = option(
        None, help="repeat records of a source smaller than its quota (the factor is recorded)"
    )
    workers: int | None = option(
        None, help="processes indexing input files in parallel (default: all CPU cores)"
    )
    chart: bool = option(True, help="write composition.png (needs matplotlib)")


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--source {pair!r}: expected NAME=PATH")
        out[name] = path
    return out


def run(cfg: MixConfig) -> int:
    """``ajtrain mix``: run the recipe and print what each source gave."""
    from rich.console import Console

    from .mix import run_mix

    manifest = run_mix(
        cfg.recipe,
        cfg.out,
        sources=_overrides(cfg.source),
        seed=cfg.seed,
        allow_oversample=cfg.allow_oversample,
        workers=cfg.workers,
        chart=cfg.chart,
    )
    console = Console(stderr=True, highlight=False)
    for s in manifest["sources"]:
        factor = f", upsampled x{s['upsample_factor']:.3f}" if s["upsample_factor"] > 1 else ""
        console.print(
            f"  {s['name']:<10} {s['train']:>8,} train {s['val']:>6,} val, dropped "
            f"{s['dropped']['duplicate']:,} dup {s['dropped']['contaminated']:,} contam{factor}",
            soft_wrap=True,
        )
    out = manifest["outputs"]
    console.print(
        f"mix '{manifest['recipe']['name']}': {out['train.jsonl']['records']:,} train + "
        f"{out['val.jsonl']['records']:,} val -> {manifest['out_dir']}"
    )
    return 0
