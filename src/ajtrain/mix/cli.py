"""``ajtrain mix``: a thin wrapper over :func:`ajtrain.mix.run_mix`."""

from __future__ import annotations

from .mix import MixConfig, run_mix


def run(cfg: MixConfig) -> int:
    """``ajtrain mix``: run the recipe and print what each source gave."""
    from rich.console import Console

    manifest = run_mix(cfg)
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
