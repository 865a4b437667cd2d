"""One bank-test run: bring the cluster up, create programs, run clients under the nemesis, heal,
resolve what is uncertain, wait for the system to settle, check, report."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from nats.js import JetStreamContext

from chaos.check_requests import (
    LedgerIndex,
    exactly_once,
    member_histories,
    replay_acknowledged,
    resolve_indeterminate,
)
from chaos.check_state import balances, billing, conservation, events, sagas, time_limits
from chaos.client import CHANNEL_OPTIONS, RetryPolicy
from chaos.cluster import Cluster
from chaos.ledger_reads import LedgerReads
from chaos.nemesis import Nemesis
from chaos.programs import ChaosProgram, create_items, enrol_members, publish_programs
from chaos.settle import settle
from chaos.stream_reads import read_stream
from chaos.verdict import Verdict
from chaos.workload import Workload
from runtime.config import SERVICES
from runtime.messaging.connection import connect

# Services the checks need; earn and redeem (with catalog) add their operations when run.
REQUIRED = ("accounts", "billing")


@dataclass
class Options:
    seconds: float = 30.0
    programs: int = 2
    clients: int = 8
    members: int = 8  # per program
    seed: int = 1
    fault_interval: float = 4.0  # mean seconds between faults
    nemesis: bool = True
    services: tuple[str, ...] = SERVICES
    seed_points: int = 1000  # granted to every member before the clients start
    items: int = 3  # catalog items per program (redeem)
    stock: int = 25  # units of each
    replay_limit: int = 2000  # acknowledged requests replayed after the run (a sample above)
    attempt_timeout: float = 5.0
    request_budget: float = 20.0  # seconds a client keeps retrying one request
    work_dir: Path | None = None  # default: a fresh temporary directory
    keep: bool = False  # keep the work directory (logs, data) even when the run is valid


@dataclass
class Outcome:
    verdict: Verdict
    ops: int = 0
    ops_per_second: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    work_dir: Path | None = None
    wall_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds it took


async def run_bank_test(options: Options, say: Callable[[str], None] = print) -> Outcome:
    began = time.monotonic()
    missing = [s for s in REQUIRED if s not in options.services]
    if missing:
        raise ValueError(f"the bank test needs {', '.join(missing)}")
    work_dir = _fresh_work_dir(options.work_dir)
    work_dir.chmod(0o755)  # embedded PostgreSQL runs as an unprivileged user when we are root
    cluster = Cluster(work_dir, options.services)
    outcome = Outcome(Verdict(), work_dir=work_dir)
    try:
        say(f"bank test: starting {', '.join(options.services)} (logs in {work_dir})")
        await cluster.start()
        started = time.monotonic() - began
        outcome = await _run(cluster, options, say)
        outcome.phases = {"cluster start": started, **outcome.phases}
        outcome.work_dir = work_dir
    finally:
        stopping = time.monotonic()
        await cluster.stop()
        outcome.phases["cluster stop"] = time.monotonic() - stopping
        outcome.wall_seconds = time.monotonic() - began
        say("time: " + ", ".join(f"{k} {v:.0f}s" for k, v in outcome.phases.items()))
        if outcome.verdict.valid and not options.keep and options.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
            outcome.work_dir = None
    return outcome


def _fresh_work_dir(given: Path | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="tamaru-chaos-"))
    if given.exists() and any(given.iterdir()):
        # An old run's database would answer for this run's keys and fail every check.
        raise ValueError(f"--work-dir {given} must be empty or not exist yet")
    given.mkdir(parents=True, exist_ok=True)
    return given


async def _run(cluster: Cluster, options: Options, say: Callable[[str], None]) -> Outcome:
    nc = await connect(cluster.nats_url, name="tamaru-chaos")
    channels = {
        name: grpc.aio.insecure_channel(cluster.address(name), options=CHANNEL_OPTIONS)
        for name in cluster.services
    }
    mark = time.monotonic()
    try:
        js = nc.jetstream()
        ids = [f"bank{index}" for index in range(options.programs)]
        programs = await publish_programs(js, ids, list(cluster.services))
        await _populate(programs, channels, options)
        policy = RetryPolicy(options.attempt_timeout, options.request_budget)
        workload = Workload(programs, _client_channels(channels), options.seed, policy)
        await workload.seed_balances(options.seed_points)
        say(
            f"bank test: {len(programs)} programs x {options.members} members, "
            f"{options.clients} clients for {options.seconds:g}s, seed {options.seed}"
        )
        workload.started_at = time.monotonic()
        setup = workload.started_at - mark
        quiet = options.seconds - min(5.0, 0.15 * options.seconds)
        nemesis = Nemesis(cluster, options.seed, options.fault_interval, workload.clock, say, quiet)
        chaos = asyncio.create_task(nemesis.run()) if options.nemesis else None
        try:
            await workload.run(options.clients, options.seconds)
        finally:  # even when a client crashed: the nemesis finishes its repair first
            ran_for = workload.clock()
            if chaos is not None:
                await nemesis.stop(chaos)
        say(f"[{workload.clock():7.2f}s] workload done; healing")
        await cluster.heal()
        healed_at = time.monotonic()
        verdict = await _check(cluster, programs, channels, js, workload, options, healed_at)
        checked_at = time.monotonic()
        ops = len([op for op in workload.history.ops if op.client >= 0])
        outcome = Outcome(
            verdict,
            ops=ops,
            ops_per_second=ops / ran_for if ran_for else 0.0,
            faults=dict(nemesis.counts()),
            phases={
                "setup": setup,
                "workload": ran_for,
                "heal": healed_at - workload.started_at - ran_for,
                "checks": checked_at - healed_at,
            },
        )
        say(_summary(workload, outcome, cluster))
        say(verdict.table())
        return outcome
    finally:
        for channel in channels.values():
            await channel.close()
        with contextlib.suppress(Exception):
            await nc.close()


def _client_channels(channels: dict[str, grpc.aio.Channel]) -> dict[str, grpc.aio.Channel]:
    """Redeem's operations need catalog items; without catalog, no orders."""
    usable = {k: v for k, v in channels.items() if k in ("accounts", "earn", "redeem")}
    if "catalog" not in channels:
        usable.pop("redeem", None)
    return usable


async def _populate(
    programs: list[ChaosProgram], channels: dict[str, grpc.aio.Channel], options: Options
) -> None:
    for program in programs:
        await enrol_members(channels["accounts"], program, options.members)
        if "catalog" in channels and "redeem" in channels:
            await create_items(
                channels["catalog"], program, items=options.items, stock=options.stock
            )


async def _check(
    cluster: Cluster,
    programs: list[ChaosProgram],
    channels: dict[str, grpc.aio.Channel],
    js: JetStreamContext,
    workload: Workload,
    options: Options,
    healed_at: float,
) -> Verdict:
    verdict = Verdict()
    patient = RetryPolicy(attempt_timeout=10.0, budget=90.0)
    verdict.add(await resolve_indeterminate(workload, patient))
    verdict.add(await replay_acknowledged(workload, patient, options.replay_limit, options.seed))
    reads = LedgerReads(cluster.database_url)
    settled = await settle(reads, js, programs, list(cluster.services), healed_at)
    verdict.add(settled)
    txs = {p.program_id: await reads.transactions(p.program_id) for p in programs}
    ledgers = {pid: LedgerIndex.of(rows) for pid, rows in txs.items()}
    has_redeem = "redeem" in cluster.services
    orders = {
        p.program_id: await reads.orders(p.program_id) if has_redeem else [] for p in programs
    }
    histories = await member_histories(channels["accounts"], programs)
    acked, failed, lost = exactly_once(workload.history.ops, ledgers, orders, histories)
    verdict.add(acked)
    verdict.add(failed)
    verdict.lost["acknowledged requests"] = lost
    verdict.add(await conservation(channels["accounts"], programs))
    verdict.add(await balances(channels["accounts"], programs))
    holds = {p.program_id: await reads.open_holds(p.program_id) for p in programs}
    reservations = (
        {p.program_id: await reads.open_reservations(p.program_id) for p in programs}
        if "catalog" in cluster.services
        else {}
    )
    if has_redeem:
        effects = {p.program_id: await reads.member_effects(p.program_id) for p in programs}
        verdict.add(sagas(orders, ledgers, effects, holds, reservations))
    verdict.add(time_limits(holds, reservations, await reads.now()))
    verdict.add(await billing(channels["billing"], programs, txs, workload.history.ops))
    stream = await read_stream(js)
    props, event_losses = await events(reads, js, list(cluster.services), stream)
    for prop in props:
        verdict.add(prop)
    verdict.lost.update(event_losses)
    return verdict


def _summary(workload: Workload, outcome: Outcome, cluster: Cluster) -> str:
    counts = workload.history.counts()
    kinds = sorted({kind for kind, _ in counts})
    lines = ["", "requests (final outcome; 'resolved' ones were indeterminate until replayed):"]
    for kind in kinds:
        ok, fail = counts[(kind, "ok")], counts[(kind, "fail")]
        resolved = sum(
            1 for op in workload.history.ops if op.kind == kind and op.resolved_after_run
        )
        lines.append(f"  {kind:<9} {ok:>6} ok {fail:>6} fail {resolved:>5} resolved after run")
    reasons = workload.history.fail_reasons()
    if reasons:
        lines.append(
            "  definite failures: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common())
        )
    retries = workload.history.retry_codes()
    if retries:
        lines.append("  retried on: " + ", ".join(f"{c} {n}" for c, n in retries.most_common()))
    lines.append(f"load: {outcome.ops} requests, {outcome.ops_per_second:.1f} ops/s")
    faults = ", ".join(f"{k} {n}" for k, n in sorted(outcome.faults.items())) or "none"
    lines.append(f"faults injected: {faults}")
    exits = {n: s.unexpected_exits for n, s in cluster.services.items() if s.unexpected_exits}
    if exits:
        lines.append(f"services that exited on their own (restarted): {exits}")
    return "\n".join(lines)
