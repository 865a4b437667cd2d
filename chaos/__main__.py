"""`python -m chaos [--seconds 30] [--programs 2] [--clients 8] ...` (`make chaos`).

Exit code 0 when every property holds, 1 when any is invalid (the verdict table says which),
2 when the cluster could not be brought up.
"""

from __future__ import annotations

import os

# The driver spawns services while its gRPC channels are open; it never uses gRPC in a forked
# child, so gRPC's fork handlers (and their log line on every spawn) can be off. Must be set
# before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from chaos.cluster import ClusterError
from chaos.run import Options, run_bank_test
from runtime.config import SERVICES
from runtime.devstack import DevStackError


def parse(argv: list[str]) -> Options:
    d = Options()
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="The bank test: concurrent clients under a nemesis, then a verdict.",
    )
    parser.add_argument("--seconds", type=float, default=d.seconds, help="workload duration")
    parser.add_argument("--programs", type=int, default=d.programs)
    parser.add_argument("--clients", type=int, default=d.clients)
    parser.add_argument("--members", type=int, default=d.members, help="per program")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--fault-interval", type=float, default=d.fault_interval, help="mean seconds between faults"
    )
    parser.add_argument("--no-nemesis", action="store_true", help="no faults (a baseline run)")
    parser.add_argument(
        "--services",
        default=",".join(d.services),
        help=f"comma-separated, from {','.join(SERVICES)} (accounts and billing are required)",
    )
    parser.add_argument("--replay-limit", type=int, default=d.replay_limit)
    parser.add_argument("--work-dir", type=Path, help="logs and data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir of a valid run")
    args = parser.parse_args(argv)
    services = tuple(s.strip() for s in args.services.split(",") if s.strip())
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        parser.error(f"unknown services: {', '.join(unknown)}")
    if args.programs < 1 or args.clients < 1 or args.members < 2 or args.seconds <= 0:
        parser.error("need --programs >= 1, --clients >= 1, --members >= 2, --seconds > 0")
    return Options(
        seconds=args.seconds,
        programs=args.programs,
        clients=args.clients,
        members=args.members,
        seed=args.seed,
        fault_interval=args.fault_interval,
        nemesis=not args.no_nemesis,
        services=services,
        replay_limit=args.replay_limit,
        work_dir=args.work_dir,
        keep=args.keep,
    )


def main(argv: list[str]) -> int:
    options = parse(argv)
    # The driver's own NATS client warns on every reconnect attempt while the nemesis has NATS
    # down; the nemesis log already says so.
    logging.getLogger("runtime.messaging.connection").setLevel(logging.ERROR)
    try:
        outcome = asyncio.run(run_bank_test(options))
    except (ClusterError, DevStackError, ValueError) as exc:
        print(f"bank test could not run: {exc}", file=sys.stderr)
        return 2
    print(f"wall time {outcome.wall_seconds:.0f}s")
    if outcome.work_dir is not None:
        print(f"logs and data kept in {outcome.work_dir}")
    return 0 if outcome.verdict.valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
