"""`python -m bench [--quick] [--only accounts] [--profile]` (what `make bench` runs).

Exit status: 0 when every scenario ran without errors (targets met or not: they are reported,
not enforced), 1 when a scenario failed or any call errored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.progress import Console
from bench.report import print_summary
from bench.runner import RunOptions, run_benchmarks
from bench.scenarios import ALL
from bench.sizes import FULL, PROFILES, QUICK

RESULTS = Path(__file__).parent / "results"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run: 100k accounts, 4 s phases")
    parser.add_argument("--sizes", choices=sorted(PROFILES), help="full, quick or tiny")
    parser.add_argument(
        "--only", action="append", choices=[s.name for s in ALL], help="run only this scenario"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results go")
    parser.add_argument("--profile", action="store_true", help="py-spy the service per phase")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="wait at most this long for other work on the machine to stop (default 120)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to use (default: the one runtime.devstack finds)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    sizes = PROFILES[args.sizes] if args.sizes else (QUICK if args.quick else FULL)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    if sizes is not FULL:
        stamp += f"-{sizes.name}"
    if args.profile:
        stamp += "-profile"
    scenarios = [s for s in ALL if not args.only or s.name in args.only]
    console = Console()
    options = RunOptions(
        sizes=sizes,
        scenarios=scenarios,
        out_dir=args.out,
        stamp=stamp,
        profile=args.profile,
        server_url=args.postgres_url,
        keep_database=args.keep_db,
        wait_quiet_seconds=args.wait_quiet,
    )
    result, paths = asyncio.run(run_benchmarks(options, console))
    print_summary(result, console.rich)
    for kind, path in paths.items():
        console.log(f"{kind}: {path}")
    errors = sum(
        f.service.errors + (f.baseline.errors if f.baseline else 0) for f in result.figures
    )
    return 1 if result.failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
