"""Generator throughput: `ajtrain generate --n 5000` on one core (target < 30 s), and the variety
of what it writes (distinct trajectories, distinct user phrasings with names abstracted).

    .venv/bin/python bench/bench_generate.py [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ajtrain.records import content_hash, read_records
from ajtrain.shutdown import check_record


def template(rec) -> str:
    """The opening request with every machine name, pattern and typed name replaced."""
    sc = rec["meta"]["scenario"]
    ref = sc["reference"]
    names = [m["name"] for m in sc["fleet"]] + list(ref["names"]) + list(ref["exclude"])
    names += [ref["pattern"], ref["wrong"]]
    text = sc["request"]
    for n in sorted({n for n in names if n}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", "{name}", text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp()) / "gen.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "ajtrain",
        "generate",
        "--n",
        str(args.n),
        "--seed",
        "0",
        "--out",
        str(out),
    ]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]  # one core
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    wall = time.perf_counter() - t0
    recs = list(read_records(out))
    t1 = time.perf_counter()
    failing = sum(not check_record(r).ok for r in recs)
    recheck = time.perf_counter() - t1
    distinct = len({content_hash(r) for r in recs})
    templates = {template(r) for r in recs}
    print(
        f"generate --n {args.n} (one core, process wall incl. start-up): {wall:.1f} s "
        f"({args.n / wall:.0f} trajectories/s; target < 30 s)"
    )
    print(f"re-check by replay: {failing} failing of {len(recs)} ({recheck:.1f} s)")
    print(f"distinct trajectories: {distinct} / {len(recs)}")
    print(
        f"distinct user phrasings (opening requests, names abstracted): {len(templates)} (target >= 200)"
    )
    print(f"distinct opening requests: {len({r['meta']['scenario']['request'] for r in recs})}")


if __name__ == "__main__":
    main()
