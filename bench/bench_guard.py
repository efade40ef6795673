"""The runtime guard: what it prevents and what it costs, against the unguarded run measured in
the same process.

- safety: wrong-machine shutdowns of the naive policy on the shutdown_targets benchmark, without
  and with the guard; the oracle's success rate without and with it (it must lose nothing);
- in-process cost: the oracle over the whole benchmark, guarded vs unguarded (ratio);
- MCP cost: per-call latency of list_agents through ``ajtrain guard serve`` vs straight to
  ``ajtrain fleet serve`` (ratio; both on stdio, the proxy adds one hop).

    .venv/bin/python bench/bench_guard.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import anyio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from ajtrain.guard import TargetGuard
from ajtrain.shutdown.benchmark import build_benchmark
from ajtrain.shutdown.checker import check_transcript
from ajtrain.shutdown.episode import run_episode
from ajtrain.shutdown.policies import Expert, Naive


def wrong_shutdowns(scenario, ep) -> int:
    return sum(
        a.tool == "shutdown_agent"
        and a.ok
        and a.changed
        and a.target not in scenario.intent.targets
        for a in ep.actions
    )


def run_all(bench, policy, guard) -> tuple[float, list]:
    t0 = time.perf_counter()
    eps = [run_episode(sc, policy, "bench", guard=guard) for sc in bench]
    return time.perf_counter() - t0, eps


async def call_latency(args: list[str], calls: int) -> float:
    """Median seconds per list_agents call over one stdio session (start-up not counted)."""
    server = StdioServerParameters(command=sys.executable, args=["-m", "ajtrain", *args])
    async with Client(server) as client:
        await client.list_tools()
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await client.call_tool("list_agents", {})
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200, help="MCP calls per measurement")
    args = ap.parse_args()
    bench, guard = build_benchmark(), TargetGuard()

    _, naive_free = run_all(bench, Naive(), None)
    _, naive_guarded = run_all(bench, Naive(), guard)
    harm_free = sum(wrong_shutdowns(sc, ep) for sc, ep in zip(bench, naive_free, strict=True))
    harmed = sum(wrong_shutdowns(sc, ep) > 0 for sc, ep in zip(bench, naive_free, strict=True))
    harm_guarded = sum(wrong_shutdowns(sc, ep) for sc, ep in zip(bench, naive_guarded, strict=True))
    blocked = sum(len(ep.blocked) for ep in naive_guarded)
    print(
        f"naive, {len(bench)} scenarios: wrong-machine shutdowns {harm_free} unguarded (in {harmed} scenarios) -> "
        f"{harm_guarded} guarded ({blocked} calls blocked)"
    )

    t_free, oracle_free = min(
        (run_all(bench, Expert(), None) for _ in range(3)), key=lambda r: r[0]
    )
    t_guard, oracle_guard = min(
        (run_all(bench, Expert(), guard) for _ in range(3)), key=lambda r: r[0]
    )
    ok_free = sum(
        check_transcript(sc, ep.messages).ok for sc, ep in zip(bench, oracle_free, strict=True)
    )
    ok_guard = sum(
        check_transcript(sc, ep.messages).ok for sc, ep in zip(bench, oracle_guard, strict=True)
    )
    blocked = sum(len(ep.blocked) for ep in oracle_guard)
    print(
        f"oracle: {ok_free}/{len(bench)} pass unguarded, {ok_guard}/{len(bench)} guarded "
        f"({blocked} calls blocked)"
    )
    print(
        f"oracle over the benchmark (best of 3): unguarded {t_free * 1e3:.0f} ms, guarded "
        f"{t_guard * 1e3:.0f} ms (x{t_guard / t_free:.2f})"
    )

    direct = anyio.run(call_latency, ["fleet", "serve"], args.calls)
    proxied = anyio.run(call_latency, ["guard", "serve", "--", sys.executable, "-m", "ajtrain",
                                       "fleet", "serve"], args.calls)  # fmt: skip
    print(
        f"MCP list_agents, median of {args.calls}: direct {direct * 1e3:.2f} ms, through the "
        f"guard proxy {proxied * 1e3:.2f} ms (x{proxied / direct:.2f})"
    )


if __name__ == "__main__":
    main()
