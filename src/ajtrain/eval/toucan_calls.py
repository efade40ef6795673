"""``toucan_calls``: next-call accuracy on held-out Toucan rows, so a safety gain is never paid
for with general tool-use capability.

Every assistant turn that calls tools becomes one prompt: the row's messages before it, and its
tools. The model's reply is compared to the reference: the first call's name, the first call
(name + arguments, equal as parsed JSON), and the whole set of calls of that turn.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress

from ..records import Message, parse_tools, read_records
from ..transcript import load_args
from .backends import Backend, Request

err = Console(stderr=True)


def call_key(call: dict) -> tuple[str, Any]:
    """(name, parsed arguments) — arguments compared as JSON values, not as text."""
    fn = call.get("function", {})
    try:
        args = load_args(fn.get("arguments"))
    except ValueError:
        args = ("<invalid JSON>", fn.get("arguments"))
    return fn.get("name", ""), orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()


def call_prompts(path: str, limit: int = 0) -> list[dict[str, Any]]:
    """One item per tool-calling assistant turn of each record: prompt, tools, reference calls."""
    items = []
    for n, rec in enumerate(read_records(path)):
        if limit and n >= limit:
            break
        tools = parse_tools(rec)
        for i, msg in enumerate(rec["messages"]):
            if msg["role"] == "assistant" and msg.get("tool_calls") and i > 0:
                items.append({
                    "row": rec["id"], "turn": i, "subset": rec.get("category", ""),
                    "prompt": rec["messages"][:i], "tools": tools,
                    "reference": msg["tool_calls"],
                })  # fmt: skip
    if not items:
        raise ValueError(f"{path}: no assistant turn with tool calls to evaluate")
    return items


def score_call(reference: list[dict], message: Message) -> dict[str, bool]:
    got = message.get("tool_calls") or []
    ref_keys = [call_key(c) for c in reference]
    got_keys = [call_key(c) for c in got]
    return {
        "called": bool(got),
        "name_ok": bool(got) and got_keys[0][0] == ref_keys[0][0],
        "call_ok": bool(got) and got_keys[0] == ref_keys[0],
        "set_ok": sorted(got_keys) == sorted(ref_keys),
    }


def _rates(rows: list[dict]) -> dict[str, Any]:
    def mean(key: str) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0

    return {
        "calls": len(rows),
        "name_accuracy": mean("name_ok"),
        "call_accuracy": mean("call_ok"),
        "exact_set_accuracy": mean("set_ok"),
        "no_call_rate": round(1 - mean("called"), 4) if rows else 0.0,
        "parse_error_rate": round(sum(bool(r["parse_errors"]) for r in rows) / len(rows), 4)
        if rows
        else 0.0,
    }


def evaluate_toucan_calls(cfg: Any, backend: Backend, progress: bool = True) -> tuple[dict, list]:
    """Score ``backend`` on ``cfg.data``; returns (metrics, one row per evaluated turn)."""
    if not cfg.data:
        raise ValueError("--benchmark toucan_calls needs --data heldout.jsonl (records)")
    items = call_prompts(cfg.data, cfg.limit)
    rows: list[dict] = [{}] * len(items)
    t0 = time.perf_counter()
    step = max(1, getattr(backend, "batch_size", 64))
    # Batches of similar lengths: a 5K-token prompt padded beside 500-token ones costs 10× its
    # share of attention. Rows are written in the prompts' own order.
    by_length = sorted(range(len(items)), key=lambda n: len(orjson.dumps(items[n]["prompt"])))
    with Progress(console=err, disable=not progress, transient=True) as bar:
        task = bar.add_task(f"toucan calls ({backend.name})", total=len(items))
        for lo in range(0, len(items), step):
            numbers = by_length[lo : lo + step]
            chunk = [items[n] for n in numbers]
            reqs = [Request(f"{it['row']}@{it['turn']}", it["prompt"], it["tools"], cfg.seed)
                    for it in chunk]  # fmt: skip
            for n, it, parsed in zip(numbers, chunk, backend.complete(reqs), strict=True):
                rows[n] = {
                    "id": it["row"], "turn": it["turn"], "subset": it["subset"],
                    **score_call(it["reference"], parsed.message),
                    "parse_errors": parsed.errors, "reference": it["reference"],
                    "reply": parsed.message,
                }  # fmt: skip
            release = getattr(backend, "release", None)  # one turn each: drop its KV cache
            for r in reqs if release is not None else ():
                release(r.key)
            bar.advance(task, len(chunk))
            if progress and not err.is_terminal:  # the bar is hidden off a terminal: log lines
                err.print(f"toucan calls: {min(lo + step, len(items))}/{len(items)} done, "
                          f"{time.perf_counter() - t0:.0f} s", markup=False, highlight=False)  # fmt: skip
    by_subset: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_subset[r["subset"]].append(r)
    metrics = {
        "rows": len({r["id"] for r in rows}),
        **_rates(rows),
        "per_subset": {s: _rates(v) for s, v in sorted(by_subset.items())},
        "timing": {"seconds": round(time.perf_counter() - t0, 3)},
        "definitions": {
            "name_accuracy": "the first call names the reference's first tool",
            "call_accuracy": "the first call equals the reference's (name, arguments as parsed JSON)",
            "exact_set_accuracy": "the turn's calls equal the reference's as a multiset",
        },
    }
    return metrics, rows
