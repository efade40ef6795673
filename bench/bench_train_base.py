"""Training a pretrained base on a CPU: the default set-up against a naive one, same run.

    .venv/bin/python bench/bench_train_base.py [--base gemma-3-270m] [--steps 2]
        [--batch-tokens 1024] [--max-length 1024] [--threads 2] [--repeat 1]

default: LoRA adapters (PEFT), logits only where a label is (``labelled_loss``), micro-batches
grouped by length, ``--precision auto`` (bf16 autocast on a frozen bf16 base where the CPU has
native bf16, else fp32) — what ``ajtrain train --base-model B --lora`` does.
naive: full fine-tuning, logits over the whole vocabulary at every position (the model's own
loss), shuffled micro-batches padded to the longest, fp32.

Both train on the same generated shutdown trajectories, rendered with the base's template, for
``--steps`` measured optimizer steps after one warm-up step; throughput counts real (non-pad)
tokens. Each set-up runs in its own process so its peak RSS is its own. Writes
bench/out/train_base/results.json and prints the ratio. Goals (issue 13): ≥ 3× tokens/s, peak
RSS under 6 GB. With ``--repeat N`` the two set-ups run N times each, interleaved (default,
naive, default, ...), and each one's fastest run counts: on a shared CPU both then see the same
load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "train_base"


def _examples(tok, n: int, max_length: int) -> list[dict]:
    from ajtrain.shutdown.generate import procedural_scenarios, scenario_to_record
    from ajtrain.train.data import tokenize

    records = [scenario_to_record(s) for s in procedural_scenarios(n, seed=0)]
    examples, _ = tokenize([(f"gen:{i}", r) for i, r in enumerate(records)], tok, max_length)
    return examples


def one(mode: str, base: str, steps: int, batch_tokens: int, max_length: int, threads: int) -> dict:
    import torch
    from transformers import AutoTokenizer

    from ajtrain.train.bases import prepare_tokenizer, resolve_base
    from ajtrain.train.batching import PaddedCollator, fixed_batches, group_by_length
    from ajtrain.train.config import TrainConfig
    from ajtrain.train.trainer import _model, _precision, labelled_loss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    path = resolve_base(base)
    tok = AutoTokenizer.from_pretrained(path)
    prepare_tokenizer(tok)
    examples = _examples(tok, 64, max_length)
    if mode == "default":
        batches = group_by_length(examples, max(batch_tokens, max_length), seed=0)
    else:
        batches = fixed_batches(examples, max(1, batch_tokens // max_length), seed=0)
    collate = PaddedCollator(tok.pad_token_id)
    cfg = TrainConfig(data="-", base_model=path, lora=mode == "default")
    precision = _precision(cfg) if mode == "default" else "fp32"
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    model = _model(cfg, tok)
    model.config.use_cache = False
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    tokens, seconds, losses = 0, 0.0, []
    for i, item in enumerate(batches[: steps + 1]):
        batch = collate([item])
        t0 = time.perf_counter()
        with autocast:
            if mode == "default":
                loss, _ = labelled_loss(model, batch)
            else:
                loss = model(**batch).loss  # logits over the whole vocabulary at every position
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:  # the first step warms up (allocations, kernels)
            seconds += time.perf_counter() - t0
            tokens += sum(len(x["input_ids"]) for x in item)
        losses.append(round(float(loss), 4))
    return {
        "mode": mode,
        "precision": precision,
        "trainable_params": sum(p.numel() for p in params),
        "steps": steps,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "losses": losses,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="gemma-3-270m")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=1024)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs of each; best counts")
    ap.add_argument("--one", choices=["default", "naive"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    common = (args.base, args.steps, args.batch_tokens, args.max_length, args.threads)
    if args.one:
        print(json.dumps(one(args.one, *common)))
        return
    results: dict = {}
    for _ in range(max(1, args.repeat)):
        for mode in ("default", "naive"):
            cmd = [sys.executable, __file__, "--one", mode, "--base", args.base,
                   "--steps", str(args.steps), "--batch-tokens", str(args.batch_tokens),
                   "--max-length", str(args.max_length), "--threads", str(args.threads)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(f"{mode} run failed:\n{done.stderr[-2000:]}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            print(mode, run, flush=True)
            best = results.get(mode)
            if best is None or run["tokens_per_s"] > best["tokens_per_s"]:
                results[mode] = run
            results[mode]["runs_tokens_per_s"] = [*(best or {}).get("runs_tokens_per_s", []),
                                                  run["tokens_per_s"]]  # fmt: skip
    results["speedup"] = round(
        results["default"]["tokens_per_s"] / results["naive"]["tokens_per_s"], 2
    )
    results["args"] = vars(args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"default {results['default']['tokens_per_s']} tok/s vs naive "
          f"{results['naive']['tokens_per_s']} tok/s: {results['speedup']}x; peak RSS "
          f"{results['default']['peak_rss_gb']} GB vs {results['naive']['peak_rss_gb']} GB")  # fmt: skip


if __name__ == "__main__":
    main()
