"""Episodes/s of the model-directory backend: all running episodes batched per round, each
keeping its KV cache from turn to turn (the default), against the same batching without the
per-episode caches, and against one episode at a time — same model, same scenarios, same run.

    .venv/bin/python bench/bench_eval_batching.py [--episodes 32] [--max-new-tokens 48]
        [--max-turns 2] [--model DIR|gemma-3-270m] [--threads 2] [--no-single]

Without ``--model`` it builds the default ``tiny`` shape (Qwen2, hidden 256, 4 layers, BPE
tokenizer trained on generated trajectories) with random weights: such a model never emits
the end-of-turn token, so every turn generates exactly ``--max-new-tokens`` and both modes do
identical work (the comparison measures the harness, not the model's habits). The batched run is
measured with and without the shared-prefix KV cache (one prefill of the prompts' common part per
``generate`` call; it cannot apply to a batch of one). Episodes are capped
at ``--max-turns`` assistant turns to keep the one-at-a-time baseline short.
Writes bench/out/eval/results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "eval"


def build_tiny(path: Path) -> Path:
    """A tiny-shape model directory with random weights (tokenizer trained on generated data)."""
    from ajtrain.records import dumps
    from ajtrain.shutdown.generate import procedural_scenarios, scenario_to_record
    from ajtrain.train.tiny import TinyShape, new_model, train_tokenizer

    if (path / "config.json").exists():
        return path
    records = [scenario_to_record(s) for s in procedural_scenarios(300, seed=0)]
    tok = train_tokenizer([dumps(r["messages"]) for r in records], 2048)
    model = new_model(tok, TinyShape(vocab_size=len(tok)), seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def run(model: Path, scenarios, batch_size: int, max_new_tokens: int, shared_prefix: bool,
        kv_reuse: bool = False) -> dict:  # fmt: skip
    from ajtrain.eval.backends import HFBackend
    from ajtrain.eval.runner import run_episodes

    backend = HFBackend(str(model), max_new_tokens=max_new_tokens, batch_size=batch_size,
                        shared_prefix=shared_prefix, kv_reuse=kv_reuse)  # fmt: skip
    t0 = time.perf_counter()
    runs = run_episodes(scenarios, backend, progress=False)
    seconds = time.perf_counter() - t0
    turns = sum(r.episode.assistant_turns for r in runs)
    return {"batch_size": batch_size, "shared_prefix": shared_prefix and batch_size > 1,
            "kv_reuse": kv_reuse, "prefill_tokens_saved": backend.shared_prefix_tokens,
            "prefilled_tokens": backend.prefilled_tokens, "reused_tokens": backend.reused_tokens,
            "episodes": len(runs), "assistant_turns": turns,
            "generate_calls": backend.generate_calls, "seconds": round(seconds, 2),
            "episodes_per_s": round(len(runs) / seconds, 3)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--max-turns", type=int, default=2)
    ap.add_argument("--model", default="")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--no-single",
        action="store_true",
        help="skip the one-at-a-time baseline (slow for a 270M model on a CPU)",
    )
    args = ap.parse_args()

    import torch

    import ajtrain.shutdown.episode as episode
    from ajtrain.shutdown.benchmark import build_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    from ajtrain.eval.runner import spread
    from ajtrain.train.bases import resolve_base

    model = Path(resolve_base(args.model)) if args.model else build_tiny(OUT / "tiny_random")
    episode.MAX_ASSISTANT_TURNS = args.max_turns
    scenarios = spread(build_benchmark(), args.episodes)
    n = args.episodes
    reusing = run(model, scenarios, n, args.max_new_tokens, shared_prefix=True, kv_reuse=True)
    batched = run(model, scenarios, n, args.max_new_tokens, shared_prefix=True)
    batched_plain = run(model, scenarios, n, args.max_new_tokens, shared_prefix=False)
    single = None if args.no_single else run(model, scenarios, 1, args.max_new_tokens, False)
    base = single or batched_plain
    result = {
        "model": str(model),
        "device": "cuda"
        if torch.cuda.is_available()
        else f"cpu ({torch.get_num_threads()} threads)",
        "max_new_tokens": args.max_new_tokens,
        "max_turns": args.max_turns,
        "batched_kv_reuse": reusing,
        "batched": batched,
        "batched_without_shared_prefix": batched_plain,
        "one_at_a_time": single,
        "baseline": "one_at_a_time" if single else "batched_without_shared_prefix",
        "speedup_kv_reuse": round(reusing["episodes_per_s"] / base["episodes_per_s"], 2),
        "speedup": round(batched["episodes_per_s"] / base["episodes_per_s"], 2),
        "speedup_without_shared_prefix": round(
            batched_plain["episodes_per_s"] / base["episodes_per_s"], 2
        ),
        "kv_reuse_vs_batched": round(reusing["episodes_per_s"] / batched["episodes_per_s"], 2),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
