"""Run every bench in turn (`make bench`); each prints its figures with a baseline measured in the
same run. Long: the mix and Toucan benches build multi-GB fixtures under bench/out/ first.

    .venv/bin/python bench/run_all.py [--only generate,guard]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHES = [
    "generate",
    "guard",
    "toucan_load",
    "toucan_sample",
    "mix",
    "train_batching",
    "eval_batching",
]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="", help="comma-separated subset of " + ", ".join(BENCHES))
    args = ap.parse_args()
    chosen = [b for b in BENCHES if not args.only or b in args.only.split(",")]
    failed = []
    for name in chosen:
        print(f"\n=== bench_{name} ===", flush=True)
        script = Path(__file__).with_name(f"bench_{name}.py")
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
