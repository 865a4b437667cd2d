"""`tamaructl apply -f FILE`: validate ProgramConfig manifests, publish each program's config to
the NATS KV bucket (generating its API keys when absent) and wait for the services' reports.

The operator runs the same steps (runtime.programs.publisher) for each custom resource.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from runtime.config import SERVICES, load_settings
from runtime.messaging.connection import connect
from runtime.programs.publisher import ensure_keys, publish_program, wait_for_reports
from runtime.programs.spec import SpecInvalid
from tamaructl.keystore import DEFAULT_DIR, FileKeyStore
from tamaructl.validate import load_manifests


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl apply")
    parser.add_argument("-f", "--file", type=Path, required=True, action="append")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for services")
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help="comma-separated services whose reports to wait for",
    )
    parser.add_argument("--keys-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    return asyncio.run(apply(args))


async def apply(args: argparse.Namespace) -> int:
    try:
        manifests = [m for path in args.file for m in load_manifests(path)]
    except SpecInvalid as exc:
        for problem in exc.problems:
            print(f"invalid: {problem}", file=sys.stderr)
        return 1
    services = [s for s in args.services.split(",") if s]
    nc = await connect(load_settings().nats_url, name="tamaructl")
    js = nc.jetstream()
    keystore = FileKeyStore(args.keys_dir)
    failures = 0
    try:
        for manifest in manifests:
            spec = manifest.spec
            keys = await ensure_keys(keystore, spec.program_id, spec.api_keys.roles)
            record, revision = await publish_program(
                js,
                program_id=spec.program_id,
                spec=spec.to_document(),
                keys=keys,
                closed=spec.closed,
            )
            outcome = await wait_for_reports(
                js,
                program_id=spec.program_id,
                revision=revision,
                generation=record.generation,
                services=services,
                timeout=args.timeout,
            )
            if outcome.ready:
                print(
                    f"program {spec.program_id}: generation {record.generation} applied by "
                    f"{', '.join(services)} (revision {revision}); keys in "
                    f"{keystore.path(spec.program_id)}"
                )
                continue
            failures += 1
            for service, error in outcome.failed.items():
                print(f"program {spec.program_id}: {service} failed: {error}", file=sys.stderr)
            if outcome.missing:
                print(
                    f"program {spec.program_id}: no report within {args.timeout:.0f}s from "
                    f"{', '.join(outcome.missing)}",
                    file=sys.stderr,
                )
    finally:
        await nc.drain()
    return 1 if failures else 0
