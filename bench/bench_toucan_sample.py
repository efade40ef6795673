"""Toucan ``load --sample N``: bytes read and wall time of a small sample against the whole
config (``--sample all``, the baseline), both measured in this run on a >= 1 GB local mirror.

    .venv/bin/python bench/bench_toucan_sample.py [--gb 1.0] [--sample 100] [--mirror DIR]

The mirror is Kimi-K2 fixture shards in the released schema (ajtrain.toucan.fixtures), at least
--gb GB of parquet on disk, written once into a temporary folder and reused (--mirror names it).
Bytes read are what the loader's reader took from the shard files (footers included), counted by
the loader itself (LoadSummary.bytes_read). A sample reads the row groups it draws from
(ajtrain.toucan.sample), so its share is about ceil(N / rows per group) / groups.
Goal: --sample 100 reads < 2% of the bytes that --sample all reads.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

CONFIG = "Kimi-K2"
DISK_KB_PER_ROW = 6.4  # fixture rows on disk (snappy parquet); row JSON is ~26 KB
SHARD_ROWS = 10_000


def build_mirror(root: Path, gb: float, rows_per_group: int) -> Path:
    """The cached mirror under ``root`` (rebuilt when smaller than ``gb`` or differently cut)."""
    from ajtrain.toucan.fixtures import write_fixture_mirror

    stamp = root / "mirror.json"
    want = {"rows_per_group": rows_per_group}
    if stamp.exists():
        have = json.loads(stamp.read_text())
        if have["bytes"] >= gb * 1e9 and have["rows_per_group"] == rows_per_group:
            return root / CONFIG
    shutil.rmtree(root, ignore_errors=True)
    rows = int(gb * 1e9 / (DISK_KB_PER_ROW * 1000) * 1.05)
    print(f"building a {rows:,}-row fixture mirror in {root} (kept for next time) ...", flush=True)
    t = time.perf_counter()
    folder = write_fixture_mirror(root, CONFIG, rows=rows, seed=0,
                                  shards=max(1, rows // SHARD_ROWS), rows_per_group=rows_per_group)  # fmt: skip
    size = sum(f.stat().st_size for f in folder.glob("*.parquet"))
    stamp.write_text(json.dumps({**want, "rows": rows, "bytes": size}))
    print(f"  {size / 1e9:.2f} GB of parquet in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def run(folder: Path, sample: str, out: Path) -> dict:
    from ajtrain.toucan.load import LoadConfig, load_toucan

    t = time.perf_counter()
    s = load_toucan(LoadConfig(source=str(folder), sample=sample, output=str(out), progress=False))
    wall = time.perf_counter() - t
    for path in (s.output, s.rejects, s.summary):
        Path(path).unlink(missing_ok=True)
    return {"sample": sample, "bytes_read": s.bytes_read, "wall_s": wall, "read": s.read,
            "row_groups": s.row_groups}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gb", type=float, default=1.0, help="mirror size: GB of parquet on disk")
    ap.add_argument("--sample", default="100", help="the small sample to compare with 'all'")
    ap.add_argument("--rows-per-group", type=int, default=500, help="parquet row group size")
    ap.add_argument(
        "--mirror", type=Path, default=Path(tempfile.gettempdir()) / "ajtrain_bench_toucan_sample"
    )
    args = ap.parse_args(argv)
    folder = build_mirror(args.mirror, args.gb, args.rows_per_group)
    disk = sum(f.stat().st_size for f in folder.glob("*.parquet"))
    print(f"mirror: {folder} ({disk / 1e9:.2f} GB parquet)")
    with tempfile.TemporaryDirectory() as work:
        small = run(folder, args.sample, Path(work) / "small.jsonl")
        full = run(folder, "all", Path(work) / "all.jsonl")
    for r in (full, small):
        print(f"--sample {r['sample']:>5}: {r['bytes_read'] / 1e6:9.1f} MB read "
              f"{r['wall_s']:7.2f} s wall  {r['read']:>7,} rows  "
              f"row groups {r['row_groups'] or 'all'}")  # fmt: skip
    share = small["bytes_read"] / full["bytes_read"]
    speedup = full["wall_s"] / small["wall_s"]
    print(f"--sample {args.sample} reads {share:.2%} of the bytes of --sample all "
          f"({speedup:.0f}x less wall time); goal < 2%: {'met' if share < 0.02 else 'NOT met'}")  # fmt: skip
    return {"small": small, "all": full, "share": share, "speedup": speedup}


if __name__ == "__main__":
    main(sys.argv[1:])
