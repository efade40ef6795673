"""Training throughput by batching mode, measured in one run on one model and one length mix.

    .venv/bin/python bench/bench_train_batching.py [--seconds 120] [--shape tiny]
    python3 bench/bench_train_batching.py --device cuda --shape 0.5b   # on a GPU machine

Builds a realistic length mix with the project's own generators — shutdown trajectories from
``ajtrain generate`` and Toucan-like rows from the fixture mirror through ``ajtrain load``, in the
safety recipe's 5% / 95% proportion — tokenises it with a tiny BPE tokenizer, then trains the
same randomly initialised model with each mode in turn (interleaved rounds, so a noisy machine
slows every mode alike). Every step goes through ``ajtrain train``'s own trainer (TRL's
``SFTTrainer`` subclass): its ``compute_loss`` on the batch its collator builds.

- ``padded`` (baseline): shuffled fixed-size micro-batches padded to the longest (right padding,
  causal attention without a mask, exactly as ``grouped``: only the batching differs);
- ``grouped``: similar lengths together under a token budget (ajtrain's CPU default);
- ``packed``: first-fit-decreasing rows of --max-length, block-diagonal attention;
- ``trl-padded``: TRL's own set-up for a tokenized dataset: fixed-size batches through TRL's
  collator (with an attention mask) and TRL's loss (its fused LM head);
- ``trl-padding-free``: TRL's collator with ``padding_free=True`` (a batch as one row of
  sequences, block-diagonal attention) and TRL's loss;
- ``grouped-trl-loss``: ``grouped`` batches with TRL's loss instead of ajtrain's on a CPU.

Reported: real (non-pad) tokens/s, the padding share, the ratio to ``padded``, and on CUDA the
model FLOPs utilisation (6·N·tokens plus causal attention, against the bf16 dense peak).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
SHAPES = {  # (hidden, layers, heads, kv heads, intermediate)
    "tiny": (256, 4, 4, 2, 768),
    "0.5b": (896, 24, 14, 2, 4864),  # Qwen2.5-0.5B's body
}


def build_rows(n_shutdown: int, n_toucan: int, workdir: Path) -> list[tuple[str, dict]]:
    """Records from the real generators: shutdown trajectories and Toucan-like rows."""
    from ajtrain.records import iter_jsonl
    from ajtrain.toucan.fixtures import write_fixture_mirror

    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    shutdown, toucan = workdir / "shutdown.jsonl", workdir / "toucan.jsonl"
    run = [sys.executable, "-m", "ajtrain"]
    subprocess.run([*run, "generate", "--n", str(n_shutdown), "--out", str(shutdown)],
                   check=True, env=env, capture_output=True)  # fmt: skip
    mirror = write_fixture_mirror(workdir / "mirror", rows=int(n_toucan * 1.2) + 10, seed=0)
    subprocess.run([*run, "load", "toucan", "--source", str(mirror), "--sample", str(n_toucan),
                    "--output", str(toucan), "--no-progress"],
                   check=True, env=env, capture_output=True)  # fmt: skip
    rows = [(f"{p}:{n}", o) for p in (shutdown, toucan) for n, o in iter_jsonl(p)]
    random.Random(0).shuffle(rows)
    return rows


def make_model(vocab: int, shape: str, device: str, pad_id: int, eos_id: int):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    hidden, layers, heads, kv, inter = SHAPES[shape]
    config = Qwen2Config(
        vocab_size=vocab if shape == "tiny" else 151936, hidden_size=hidden,
        intermediate_size=inter, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv, max_position_embeddings=32768, tie_word_embeddings=True,
        use_cache=False, pad_token_id=pad_id, eos_token_id=eos_id,
    )  # fmt: skip
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).to(device), config


def make_batches(mode: str, examples: list[dict], max_length: int, batch_tokens: int, seed: int):
    from ajtrain.train.batching import fixed_batches, group_by_length, pack

    per = max(1, batch_tokens // max_length)
    if mode == "packed":
        return fixed_batches(pack(examples, max_length, seed), per, seed)
    if mode.startswith("grouped"):
        return group_by_length(examples, max(batch_tokens, max_length), seed)
    return fixed_batches(examples, per, seed)


def make_trainer(model, tok, batches: list, max_length: int, workdir: Path):
    """``ajtrain train``'s trainer around ``model``, as ``train`` builds it."""
    from ajtrain.train.batching import PaddedCollator
    from ajtrain.train.config import TrainConfig
    from ajtrain.train.trainer import batch_dataset, trainer_class, training_args

    cfg = TrainConfig(data="-", max_length=max_length, tiny_copy_warmup=0)
    args = training_args(cfg, workdir, has_val=False)
    return trainer_class()(
        model=model, args=args, train_dataset=batch_dataset(batches[:2]),
        data_collator=PaddedCollator(tok.pad_token_id), processing_class=tok,
    )  # fmt: skip


def attention_flops(batch: list[dict], mode: str, config) -> float:
    """Causal attention FLOPs (fwd+bwd) of the real examples: 6·L·d·Σ len² (half of 12·L·d·len²)."""
    d, layers = config.hidden_size, config.num_hidden_layers
    if mode in ("packed", "trl-padding-free"):
        lengths = []
        for row in batch:
            if "position_ids" not in row:  # one example per row, flattened by the collator
                lengths.append(len(row["input_ids"]))
                continue
            starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [
                len(row["position_ids"])
            ]
            lengths += [b - a for a, b in zip(starts, starts[1:], strict=False)]
    else:
        lengths = [len(e["input_ids"]) for e in batch]
    return 6.0 * layers * d * sum(n * n for n in lengths)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shutdown", type=int, default=100, help="shutdown trajectories (5%%)")
    ap.add_argument("--toucan", type=int, default=1900, help="Toucan-like rows (95%%)")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--seconds", type=float, default=120, help="timed seconds per mode, in all")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the modes")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--modes", nargs="*", default=["padded", "grouped", "packed"],
        choices=["padded", "grouped", "packed", "trl-padded", "trl-padding-free",
                 "grouped-trl-loss"],
    )  # fmt: skip
    args = ap.parse_args()

    import torch
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from ajtrain.train.batching import PackedCollator, PaddedCollator
    from ajtrain.train.data import conversation, tokenize
    from ajtrain.train.template import SpanFinder
    from ajtrain.train.tiny import train_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        rows = build_rows(args.shutdown, args.toucan, Path(tmp))
    render = SpanFinder(train_tokenizer([], 300)).render
    tok = train_tokenizer([render(*conversation(o, w), False) for w, o in rows[:400]], 8192)
    t0 = time.perf_counter()
    examples, stats = tokenize(rows, tok, args.max_length)
    tok_s = time.perf_counter() - t0
    lengths = sorted(len(e["input_ids"]) for e in examples)
    pct = {q: lengths[int(q / 100 * (len(lengths) - 1))] for q in (10, 50, 90, 99)}
    print(f"data: {len(examples)} examples ({args.shutdown} shutdown + {args.toucan} Toucan-like), "
          f"{stats.tokens} tokens, length p10/p50/p90/p99 = {pct[10]}/{pct[50]}/{pct[90]}/{pct[99]}, "
          f"{stats.truncated} cut at {args.max_length}; tokenised in {tok_s:.1f} s "
          f"({stats.tokens / tok_s:,.0f} tokens/s)")  # fmt: skip

    device = args.device
    model, config = make_model(len(tok), args.shape, device, tok.pad_token_id, tok.eos_token_id)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    pad = tok.pad_token_id
    collate = {
        "packed": PackedCollator(pad), "grouped": PaddedCollator(pad),
        "padded": PaddedCollator(pad), "grouped-trl-loss": PaddedCollator(pad),
        "trl-padded": DataCollatorForLanguageModeling(pad),
        "trl-padding-free": DataCollatorForLanguageModeling(pad, padding_free=True),
    }  # fmt: skip
    batches = {
        m: make_batches(m, examples, args.max_length, args.batch_tokens, 0) for m in args.modes
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench_train_batching_"))
    trainer = make_trainer(model, tok, next(iter(batches.values())), args.max_length, workdir)
    model.train()
    cursor = dict.fromkeys(args.modes, 0)
    totals = {m: {"real": 0, "seen": 0, "s": 0.0, "flops": 0.0, "steps": 0} for m in args.modes}
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else torch.autocast("cpu", enabled=False)
    )

    def step(mode: str) -> tuple[int, int, float]:
        batch = batches[mode][cursor[mode] % len(batches[mode])]
        cursor[mode] += 1
        if mode.startswith("trl"):  # TRL's collator takes one example per item
            inputs = collate[mode](
                [{k: v for k, v in e.items() if k != "n_examples"} for e in batch]
            )
        else:
            inputs = collate[mode]([batch])
        inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
        # ajtrain's loss where the trainer picks it (a CPU), else TRL's (its fused LM head)
        trainer._own_loss = None if mode in ("padded", "grouped", "packed") else False
        with amp:
            loss = trainer.compute_loss(model, inputs)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        real = sum(len(e["input_ids"]) for e in batch)
        return real, inputs["input_ids"].numel(), attention_flops(batch, mode, config)

    shutil.rmtree(workdir, ignore_errors=True)  # nothing is saved: it only held the arguments

    for mode in args.modes:  # warm-up: allocator, kernels, threads
        for _ in range(2):
            step(mode)
    budget = args.seconds / args.rounds
    for _ in range(args.rounds):
        for mode in args.modes:
            t = time.perf_counter()
            while time.perf_counter() - t < budget:
                real, seen, attn = step(mode)
                if device == "cuda":
                    torch.cuda.synchronize()
                tot = totals[mode]
                tot["real"] += real
                tot["seen"] += seen
                tot["flops"] += 6.0 * n_params * real + attn
                tot["steps"] += 1
            totals[mode]["s"] += time.perf_counter() - t

    gpu = torch.cuda.get_device_name() if device == "cuda" else ""
    peak = next((v for k, v in PEAK_BF16.items() if k in gpu), None)
    print(f"model: Qwen2 '{args.shape}' {n_params / 1e6:.1f}M parameters on {gpu or 'CPU'}"
          f" ({torch.get_num_threads()} threads); max_length {args.max_length}, "
          f"{args.batch_tokens} tokens per micro-batch")  # fmt: skip
    base = totals["padded"]["real"] / totals["padded"]["s"] if "padded" in totals else None
    print(f"{'mode':16} {'steps':>6} {'real tok/s':>11} {'padding':>8} {'vs padded':>10}"
          + (f" {'MFU':>6}" if peak else ""))  # fmt: skip
    for mode, tot in totals.items():
        rate = tot["real"] / tot["s"]
        line = f"{mode:16} {tot['steps']:6d} {rate:11,.0f} {1 - tot['real'] / tot['seen']:8.1%}"
        line += f" {rate / base:9.2f}x" if base else ""
        line += f" {tot['flops'] / tot['s'] / peak:6.1%}" if peak else ""
        print(line)


if __name__ == "__main__":
    main()
