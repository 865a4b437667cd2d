"""The accounts ledger (issue 3, "Speed"): credits, debits, batch credits, balance reads at a
small and a large number of accounts, and the expiry sweep, each beside the raw PostgreSQL
baseline doing the same work in the same run.

Programs are created through the KV bucket like any other; members, accounts and lots are
COPYed straight into the `accounts` tables (a million enrolments through the API would take
longer than the whole benchmark). Every program here has `expiry: never` so credits made by
one phase are never swept by another; the expiry phase loads its own due lots.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

from bench.baseline import (
    RawLedger,
    RawReader,
    close_all,
    connect_many,
    copy_population_to_raw,
    create_raw_schema,
    raw_expiry_sweep,
)
from bench.loaders import LotSpec, Population, load_population
from bench.results import Check, Figure, Stats, p99_at_most
from bench.scenario import BenchContext, Scenario
from bench.scenarios.accounts_client import AccountsClient
from bench.stack import BenchProgram
from runtime.db.engine import make_async_engine, make_session_factory
from runtime.db.unit_of_work import UnitOfWork
from services.accounts.entrypoints.sweeper_worker import LedgerSweeper

SERVICES = ("accounts",)
NEVER_EXPIRES = {"expiry": {"mode": "never"}}
AMOUNT = 10
POOL_BALANCE = 10**9  # debits never run a pool account dry

# Targets for this machine (issue 3).
CREDIT_RATIO = 0.35
CREDIT_P99_MS = 50.0
BATCH_ENTRIES_PER_S = 50_000.0
READ_P99_MS = 10.0
EXPIRY_LOTS_PER_S = 20_000.0
# "No worse at 1M than at 10k": p99s of two short runs differ by noise alone; within 20% (and
# under 1 ms of difference) counts as no worse.
READ_NOISE = 1.2
READ_NOISE_MS = 1.0


def _any(pop: Population) -> int:
    return random.randrange(pop.size)


def _at_least(target: str, value: float, floor: float, shown: str) -> Check:
    return Check(target=target, measured=shown, met=value >= floor)


async def run(ctx: BenchContext) -> list[Figure]:
    now = datetime.now(UTC)
    program = await ctx.stack.create_program(SERVICES, prefix="pool", **NEVER_EXPIRES)
    pool = Population.new(
        program.program_id, ctx.sizes.pool_accounts, [LotSpec(POOL_BALANCE, None)]
    )
    await load_population(ctx.stack.dsn, pool, ctx.console)
    await create_raw_schema(ctx.stack.dsn)
    await copy_population_to_raw(ctx.stack.dsn, pool)
    figures = [
        await _singles(ctx, program, pool, "credit"),
        await _singles(ctx, program, pool, "debit"),
        await _batches(ctx, program, pool),
    ]
    figures += await _balances(ctx, now)
    # The same credits again, now that the tables also hold the large population: a credit's
    # cost must not grow with the number of accounts (the sweep below runs at that size too).
    again = await _singles(ctx, program, pool, "credit", after=ctx.sizes.large_label)
    figures.append(again)
    figures.append(await _expiry(ctx, now))
    return figures


async def _singles(
    ctx: BenchContext, program: BenchProgram, pool: Population, operation: str, after: str = ""
) -> Figure:
    """Credits or debits of 10 points on random pool accounts from `clients` callers
    (`after`: the label of the population loaded since, for the repeated credit phase)."""
    name = f"{operation}_at_{after}" if after else operation
    s, service = ctx.sizes, ctx.stack.service("accounts")
    conns = await connect_many(ctx.stack.dsn, s.clients)
    try:
        raw = RawLedger(conns, pool)
        raw_op = raw.credit if operation == "credit" else raw.debit
        baseline = await ctx.measure(
            f"{name}: raw PostgreSQL",
            lambda c: raw_op(c, _any(pool), AMOUNT),
            clients=s.clients,
            pid=service.pid,
        )
    finally:
        await close_all(conns)
    async with AccountsClient(service.target, program, pool) as client:
        grpc_op = client.credit if operation == "credit" else client.debit
        measured = await ctx.measure(
            f"{name}: gRPC",
            lambda c: grpc_op(c, _any(pool), AMOUNT),
            clients=s.clients,
            pid=service.pid,
            profile_as=name,
        )
    figure = Figure(
        scenario="accounts",
        operation=name,
        title=f"{operation.capitalize()} (gRPC, {s.clients} clients)"
        + (f" with {after} accounts loaded" if after else ""),
        unit=f"{operation}s/s",
        service=measured,
        baseline=baseline,
        notes=await _drained(ctx),
    )
    if operation == "credit" and not after:
        ratio = figure.ratio or 0.0
        figure.checks = [
            _at_least(f">= {CREDIT_RATIO}x raw", ratio, CREDIT_RATIO, f"{ratio:.2f}x raw"),
            p99_at_most(CREDIT_P99_MS, measured.p99_ms),
        ]
    return figure


async def _batches(ctx: BenchContext, program: BenchProgram, pool: Population) -> Figure:
    """BatchCredit of `batch_size` entries; each caller credits its own share of the pool,
    so concurrent batches never wait for each other's account locks."""
    s, service = ctx.sizes, ctx.stack.service("accounts")

    def entries(client: int) -> list[int]:
        return random.sample(range(client, pool.size, s.batch_clients), s.batch_size)

    conns = await connect_many(ctx.stack.dsn, s.batch_clients)
    try:
        raw = RawLedger(conns, pool)
        baseline = await ctx.measure(
            f"batch credit: raw PostgreSQL, multi-row inserts of {s.batch_size}",
            lambda c: raw.batch_credit(c, entries(c), AMOUNT),
            clients=s.batch_clients,
            pid=service.pid,
        )
    finally:
        await close_all(conns)
    async with AccountsClient(service.target, program, pool) as client:
        measured = await ctx.measure(
            "batch credit: gRPC BatchCredit",
            lambda c: client.batch_credit(c, entries(c), AMOUNT),
            clients=s.batch_clients,
            pid=service.pid,
            profile_as="batch_credit",
        )
    return Figure(
        scenario="accounts",
        operation="batch_credit",
        title=f"BatchCredit ({s.batch_size} entries/call, {s.batch_clients} clients)",
        unit="entries/s",
        service=measured,
        baseline=baseline,
        checks=[
            _at_least(
                f">= {BATCH_ENTRIES_PER_S:,.0f} entries/s",
                measured.throughput,
                BATCH_ENTRIES_PER_S,
                f"{measured.throughput:,.0f} entries/s",
            )
        ],
        notes=await _drained(ctx),
    )


def _balance_lots(now: datetime) -> list[LotSpec]:
    """Two lots per member: one expiring in two years (outside the sweeps' and reminders'
    reach during the run), one that never expires."""
    return [LotSpec(500, now + timedelta(days=730)), LotSpec(300, None)]


async def _balances(ctx: BenchContext, now: datetime) -> list[Figure]:
    """GetBalance at the small population, then (after COPYing the large one in) at the large
    one. The latency targets are checked on the single-client figures: with more clients the
    service's one core is busy and latency becomes queueing (clients x CPU per read)."""
    s = ctx.sizes
    small = await _population(ctx, "small", s.small_population, _balance_lots(now))
    small_figures = [await _reads(ctx, *small, s.small_label, c) for c in s.read_clients]
    large = await _population(ctx, "large", s.large_population, _balance_lots(now))
    large_figures = [await _reads(ctx, *large, s.large_label, c) for c in s.read_clients]
    small_one, large_one = small_figures[0], large_figures[0]
    p99, small_p99 = large_one.service.p99_ms, small_one.service.p99_ms
    no_worse = (
        p99 is not None
        and small_p99 is not None
        and (p99 <= small_p99 * READ_NOISE or p99 - small_p99 <= READ_NOISE_MS)
    )
    large_one.checks = [
        p99_at_most(READ_P99_MS, p99),
        Check(
            target=f"no worse than at {s.small_label}",
            measured=f"p99 {_ms(p99)} vs {_ms(small_p99)}",
            met=no_worse,
        ),
    ]
    return [*small_figures, *large_figures]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


async def _population(
    ctx: BenchContext, prefix: str, size: int, lots: list[LotSpec]
) -> tuple[BenchProgram, Population]:
    program = await ctx.stack.create_program(SERVICES, prefix=prefix, **NEVER_EXPIRES)
    pop = Population.new(program.program_id, size, lots)
    await load_population(ctx.stack.dsn, pop, ctx.console)
    return program, pop


async def _reads(
    ctx: BenchContext, program: BenchProgram, pop: Population, label: str, clients: int
) -> Figure:
    service = ctx.stack.service("accounts")
    conns = await connect_many(ctx.stack.dsn, clients)
    try:
        raw = RawReader(conns, pop)
        baseline = await ctx.measure(
            f"balance at {label} accounts, {clients} clients: raw PostgreSQL",
            lambda c: raw.balance(c, _any(pop)),
            clients=clients,
            pid=service.pid,
        )
    finally:
        await close_all(conns)
    async with AccountsClient(service.target, program, pop) as client:
        measured = await ctx.measure(
            f"balance at {label} accounts, {clients} clients: gRPC GetBalance",
            lambda c: client.balance(c, _any(pop)),
            clients=clients,
            pid=service.pid,
            profile_as=f"balance_{label}_{clients}",
        )
    return Figure(
        scenario="accounts",
        operation=f"balance_{label}_{clients}",
        title=f"GetBalance at {label} accounts ({clients} client{'s' if clients > 1 else ''})",
        unit="reads/s",
        service=measured,
        baseline=baseline,
    )


async def _expiry(ctx: BenchContext, now: datetime) -> Figure:
    """Due lots COPYed with an expiry 400 days ahead, swept with a clock 401 days ahead: the
    running service's own sweeper (real clock) never touches them first."""
    s = ctx.sizes
    per_account = s.expiry_lots_per_account
    expires_at, sweep_at = now + timedelta(days=400), now + timedelta(days=401)
    _, pop = await _population(
        ctx, "expiry", s.expiry_lots // per_account, [LotSpec(100, expires_at)] * per_account
    )
    await copy_population_to_raw(ctx.stack.dsn, pop)
    baseline = await ctx.measure_once(
        f"expiry: raw PostgreSQL, {pop.lot_count:,} lots",
        lambda: raw_expiry_sweep(ctx.stack.dsn, sweep_at, s.sweep_batch),
        pid=None,
    )
    engine = make_async_engine(
        ctx.stack.database_url, schema="accounts", pool_size=2, application_name="bench-sweeper"
    )
    sessions = make_session_factory(engine)
    sweeper = LedgerSweeper(lambda: UnitOfWork(sessions, "accounts"), batch_size=s.sweep_batch)

    async def sweep() -> int:
        expired, _ = await sweeper.run_once(now=sweep_at)
        return expired

    try:
        measured = await ctx.measure_once(
            f"expiry: LedgerSweeper.run_once, {pop.lot_count:,} lots",
            sweep,
            pid=os.getpid(),
            profile_as="expiry",
        )
    finally:
        await engine.dispose()
    _count_missing(measured, pop.lot_count)
    _count_missing(baseline, pop.lot_count)
    return Figure(
        scenario="accounts",
        operation="expiry",
        title=f"Expiry sweep ({pop.lot_count:,} lots, {per_account} per account)",
        unit="lots/s",
        service=measured,
        baseline=baseline,
        checks=[
            _at_least(
                f">= {EXPIRY_LOTS_PER_S:,.0f} lots/s",
                measured.throughput,
                EXPIRY_LOTS_PER_S,
                f"{measured.throughput:,.0f} lots/s",
            )
        ],
        notes=[
            "the sweeper runs in the bench process (its CPU is the service column; the "
            "accounts process publishing the points_expired events counts as 'other services')",
            *await _drained(ctx),
        ],
    )


def _count_missing(stats: Stats, expected: int) -> None:
    """A sweep that left due lots behind is an error, not a faster figure."""
    if stats.entries != expected:
        stats.errors += 1
        stats.error_samples.append(f"expired {stats.entries} lots, {expected} were due")


async def _drained(ctx: BenchContext) -> list[str]:
    waited = await ctx.outbox_settled("accounts")
    return [f"the outbox relay needed {waited:.1f}s after the phase to publish the rest"]


SCENARIO = Scenario(name="accounts", services=SERVICES, run=run)
