"""`python -m bench` (or `make bench`): every benchmark, with its baselines, in one run."""

from __future__ import annotations

import argparse
import json
import platform
import sys

from bench.liveview import run_liveview
from bench.micro import run_micro
from bench.transfer import run_transfer


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=["micro", "transfer", "liveview"], help="run one group")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    if args.only in (None, "micro"):
        results.update(run_micro())
    if args.only in (None, "transfer"):
        results["download from the virtual camera over loopback"] = run_transfer()
    if args.only in (None, "liveview"):
        results.update(run_liveview())
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"ptpip benchmarks on {platform.python_implementation()} {platform.python_version()}")
    for group, figures in results.items():
        print(f"\n{group}")
        for key, value in figures.items():
            shown = f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
            print(f"  {key:32} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
