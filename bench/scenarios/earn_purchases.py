"""Purchases earning points (issue 4, "Speed"): `RecordPurchase` from 32 concurrent clients and
the client-streaming `BatchRecordPurchases`, beside a raw PostgreSQL baseline writing the same
rows, and beside the accounts Credit figure of the same run (every purchase is one).

The program earns 1 point per 100 yen and runs a campaign (double points in stores, dated to
cover the run), so every purchase is scored by a base rate and a rule. Each purchase is earn
resolving the member and crediting it through accounts (two NATS commands), then storing the
purchase with its breakdown: two services, two transactions. The baseline writes what those
two commit, by plain SQL: the ledger credit (transaction, postings, lot, account, outbox row,
idempotency key) in one transaction, then earn's purchase row and its idempotency key.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg

from bench.baseline import (
    FINGERPRINT,
    RESPONSE,
    Conn,
    RawLedger,
    close_all,
    connect_many,
    copy_population_to_raw,
    create_raw_schema,
)
from bench.loaders import LotSpec, Population, load_population
from bench.results import Check, Figure, Stats, p99_at_most
from bench.scenario import BenchContext, Scenario
from bench.scenarios.accounts_client import AccountsClient, UnexpectedReply
from bench.stack import BenchProgram
from tamaru.accounts.v1 import members_pb2
from tamaru.earn.v1 import earn_pb2, earn_pb2_grpc
from tamaru.earn.v1 import purchases_pb2 as p

SERVICES = ("accounts", "earn")
NEVER_EXPIRES = {"expiry": {"mode": "never"}}
CAMPAIGN = "bench_double"
CHANNEL = "store"
CHANNELS = 4
TIMEOUT = 60.0
YEN = (480, 1_280, 3_300, 5_980, 12_800)  # every one earns base points and the campaign's

# Targets from issue 4.
RECORD_PER_S = 800.0
RECORD_P99_MS = 80.0
BATCH_PER_S = 10_000.0


def earn_config(now: datetime) -> dict[str, Any]:
    """1 point per 100 yen, and a campaign doubling store purchases for the run's days."""
    return {
        "baseRate": {"yenPerUnit": 100, "pointsPerUnit": 1},
        "rounding": "floor",
        "rules": [
            {
                "id": CAMPAIGN,
                "name": "Bench campaign: double points in stores",
                "kind": "multiplier",
                "multiplierPercent": 200,
                "validFrom": (now - timedelta(days=1)).isoformat(),
                "validTo": (now + timedelta(days=30)).isoformat(),
                "channels": [CHANNEL],
            }
        ],
    }


def points_for(yen: int) -> int:
    return 2 * (yen // 100)


def _any(pop: Population) -> int:
    return random.randrange(pop.size)


class PurchaseClient:
    def __init__(self, target: str, program: BenchProgram, pop: Population) -> None:
        self._channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
        self._stubs = [earn_pb2_grpc.EarnServiceStub(c) for c in self._channels]
        self._metadata = program.metadata()
        self.pop = pop

    def _purchase(self, index: int) -> p.Purchase:
        return p.Purchase(
            purchase_id=str(uuid.uuid4()),
            member=members_pb2.MemberSelector(account_id=self.pop.account_id(index)),
            channel=CHANNEL,
            store="bench-001",
            amount_yen=random.choice(YEN),
        )

    async def record(self, client: int) -> int:
        reply = await self._stubs[client % CHANNELS].RecordPurchase(
            earn_pb2.RecordPurchaseRequest(purchase=self._purchase(_any(self.pop))),
            metadata=self._metadata,
            timeout=TIMEOUT,
        )
        if not any(item.ref == CAMPAIGN for item in reply.result.breakdown):
            raise UnexpectedReply(f"the campaign did not score the purchase: {reply.result}")
        return 1

    async def batch(self, client: int, size: int) -> int:
        requests = [
            earn_pb2.BatchRecordPurchasesRequest(purchase=self._purchase(_any(self.pop)))
            for _ in range(size)
        ]
        reply = await self._stubs[client % CHANNELS].BatchRecordPurchases(
            iter(requests), metadata=self._metadata, timeout=TIMEOUT
        )
        if reply.rejected:
            first = next(r.error for r in reply.results if r.HasField("error"))
            raise UnexpectedReply(f"{reply.rejected} purchases rejected, e.g. {first.message}")
        return int(reply.recorded)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


_PURCHASE_COLUMNS = (
    "program_id, purchase_id, account_id, channel, store, amount_yen, lines, returned_by_line, "
    "occurred_at, points_earned, breakdown, credits, returned_yen, points_reversed, "
    "rules_generation, offer_issue_id"
)
_INSERT_PURCHASES = f"INSERT INTO raw.earn_purchases ({_PURCHASE_COLUMNS}) VALUES "
_INSERT_KEYS = (
    "INSERT INTO raw.earn_idempotency_keys (program_id, scope, key, request_hash, response) VALUES "
)


def _rows(columns: int, n: int) -> str:
    one = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([one] * n)


async def create_raw_tables(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for raw, table in (("earn_purchases", "purchases"), ("earn_idempotency_keys",
                                                             "idempotency_keys")):  # fmt: skip
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS raw.{raw} (LIKE earn.{table} INCLUDING ALL)"
            )


class RawPurchases:
    """The ledger credit by `RawLedger`, then earn's purchase row and idempotency key, with
    a breakdown and credits of the size the service stores."""

    def __init__(self, conns: list[Conn], pop: Population) -> None:
        self.conns = conns
        self.pop = pop
        self.ledger = RawLedger(conns, pop)

    def _row(self, index: int, yen: int) -> tuple[list[Any], list[Any]]:
        purchase_id, points = str(uuid.uuid4()), points_for(yen)
        breakdown = [
            {"source": "base", "ref": "base", "name": "Base rate", "points": points // 2,
             "kind": "normal", "note": f"1 point per 100 yen on {yen:,} yen"},
            {"source": "rule", "ref": CAMPAIGN, "name": "Bench campaign", "points": points // 2,
             "kind": "normal", "note": f"200% on {yen:,} yen"},
        ]  # fmt: skip
        credits = {"normal": {"transaction_id": str(uuid.uuid4()), "points": points}}
        row = [self.pop.program_id, purchase_id, self.pop.account_id(index), CHANNEL,
               "bench-001", yen, "[]", "[]", datetime.now(UTC), points, json.dumps(breakdown),
               json.dumps(credits), 0, 0, 1, ""]  # fmt: skip
        key = [self.pop.program_id, "earn.RecordPurchase", purchase_id, FINGERPRINT, RESPONSE]
        return row, key

    async def record(self, client: int) -> int:
        index, yen = _any(self.pop), random.choice(YEN)
        await self.ledger.credit(client, index, points_for(yen))
        row, key = self._row(index, yen)
        async with self.conns[client].transaction():
            await self.conns[client].execute(_INSERT_PURCHASES + _rows(16, 1), row)
            await self.conns[client].execute(_INSERT_KEYS + _rows(5, 1), key)
        return 1

    async def batch(self, client: int, size: int) -> int:
        """The batch as multi-row inserts: `RawLedger.batch_credit`, then the purchases and
        their keys in one transaction."""
        indexes = [_any(self.pop) for _ in range(size)]
        yen = random.choice(YEN)
        await self.ledger.batch_credit(client, indexes, points_for(yen))
        rows: list[Any] = []
        keys: list[Any] = []
        for index in indexes:
            row, key = self._row(index, yen)
            rows += row
            keys += key
        async with self.conns[client].transaction():
            await self.conns[client].execute(_INSERT_PURCHASES + _rows(16, size), rows)
            await self.conns[client].execute(_INSERT_KEYS + _rows(5, size), keys)
        return size


async def run(ctx: BenchContext) -> list[Figure]:
    s, earn = ctx.sizes, ctx.stack.service("earn")
    program = await ctx.stack.create_program(
        SERVICES, prefix="earn", earn=earn_config(datetime.now(UTC)), **NEVER_EXPIRES
    )
    pool = Population.new(program.program_id, s.pool_accounts, [LotSpec(100, None)])
    await load_population(ctx.stack.dsn, pool, ctx.console)
    await create_raw_schema(ctx.stack.dsn)
    await copy_population_to_raw(ctx.stack.dsn, pool)
    await create_raw_tables(ctx.stack.dsn)

    conns = await connect_many(ctx.stack.dsn, max(s.clients, s.batch_clients))
    try:
        raw = RawPurchases(conns, pool)
        raw_single = await ctx.measure(
            "purchases: raw PostgreSQL", raw.record, clients=s.clients, pid=earn.pid
        )
        raw_batch = await ctx.measure(
            f"purchase batches: raw PostgreSQL, multi-row inserts of {s.purchase_batch}",
            lambda c: raw.batch(c, s.purchase_batch),
            clients=s.batch_clients,
            pid=earn.pid,
        )
    finally:
        await close_all(conns)
    client = PurchaseClient(earn.target, program, pool)
    try:
        single = await ctx.measure(
            "purchases: gRPC RecordPurchase",
            client.record,
            clients=s.clients,
            pid=earn.pid,
            profile_as="record_purchase",
            also_profile={"accounts": ctx.stack.service("accounts").pid},
        )
        single_notes = await _drained(ctx)
        batch = await ctx.measure(
            "purchase batches: gRPC BatchRecordPurchases",
            lambda c: client.batch(c, s.purchase_batch),
            clients=s.batch_clients,
            pid=earn.pid,
            profile_as="batch_record_purchases",
            also_profile={"accounts": ctx.stack.service("accounts").pid},
        )
        batch_notes = await _drained(ctx)
    finally:
        await client.close()
    credit = await _accounts_credit(ctx, program, pool)
    return [
        Figure(
            scenario="earn",
            operation="record_purchase",
            title=f"RecordPurchase (gRPC, {s.clients} clients)",
            unit="purchases/s",
            service=single,
            baseline=raw_single,
            checks=[
                _at_least(RECORD_PER_S, single.throughput, "purchases/s"),
                p99_at_most(RECORD_P99_MS, single.p99_ms),
            ],
            notes=[*_beside_credit(single, credit), *single_notes],
        ),
        Figure(
            scenario="earn",
            operation="batch_record_purchases",
            title=f"BatchRecordPurchases ({s.purchase_batch}/stream, {s.batch_clients} clients)",
            unit="purchases/s",
            service=batch,
            baseline=raw_batch,
            checks=[_at_least(BATCH_PER_S, batch.throughput, "purchases/s")],
            notes=[*_beside_credit(batch, credit), *batch_notes],
        ),
    ]


def _at_least(floor: float, value: float, unit: str) -> Check:
    return Check(
        target=f">= {floor:,.0f} {unit}", measured=f"{value:,.0f} {unit}", met=value >= floor
    )


async def _accounts_credit(
    ctx: BenchContext, program: BenchProgram, pool: Population
) -> tuple[str, Stats]:
    """The accounts Credit figure every purchase stands on: the accounts scenario's of this
    run, or (when it did not run) gRPC Credit measured here on the same pool."""
    for figure in ctx.figures:
        if figure.scenario == "accounts" and figure.operation == "credit":
            return "the accounts scenario's", figure.service
    service = ctx.stack.service("accounts")
    async with AccountsClient(service.target, program, pool) as client:
        stats = await ctx.measure(
            "purchases: the accounts Credit beside them (gRPC)",
            lambda c: client.credit(c, _any(pool), 10),
            clients=ctx.sizes.clients,
            pid=service.pid,
        )
    await _drained(ctx)
    return "measured by this scenario (the accounts scenario did not run)", stats


def _beside_credit(measured: Stats, credit: tuple[str, Stats]) -> list[str]:
    origin, stats = credit
    share = measured.throughput / stats.throughput if stats.throughput > 0 else 0.0
    return [
        f"accounts Credit in this run ({origin}): {stats.throughput:,.0f} credits/s, p99 "
        f"{stats.p99_ms or 0:,.1f} ms at {stats.clients} clients; purchases ran at "
        f"{share:.2f}x of it (each purchase is one credit)",
        "service CPU is the earn process's; accounts works for every purchase too and counts "
        "as 'other services'",
    ]


async def _drained(ctx: BenchContext) -> list[str]:
    notes = []
    for schema in SERVICES:
        waited = await ctx.outbox_settled(schema)
        if waited:
            notes.append(f"the {schema} outbox relay needed {waited}s after the phase")
    return notes


SCENARIO = Scenario("earn_purchases", SERVICES, run)
