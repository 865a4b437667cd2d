"""Billing (issue 9): how fast billing's consumer turns a backlog of ledger events into
charges, and what `GetUsageReport` and an invoice draft (`GetInvoice` of the current period)
cost for a program with that activity, each beside plain SQL doing the same work.

Billing's consumers are paused from the start of the run (`prepare`), so billing does not apply
the other scenarios' events on the cores they are measured on. This scenario then purges those
leftover events from billing's subjects (the bench owns the stream), makes the backlog with
accounts' BatchCredit (sponsor-funded credits: each is one `points_credited` event and one
charge), waits until accounts' relay published all of it to JetStream, resumes billing's
consumer, and times the drain until every event is a charge row.

The baseline applies the same events by plain SQL, one transaction each (the consumer's unit):
the inbox claim, three usage counters, the member's activity, the charge and the draft's
running total. Billing's service recomputes the period's draft from all its charges on each
event instead, so its cost per event grows with the month's charges; the notes say by how much.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import psycopg

from bench.baseline import Conn, close_all, connect_many
from bench.loaders import LotSpec, Population, load_population
from bench.results import Figure, Stats
from bench.scenario import BenchContext, Scenario
from bench.scenarios.accounts_client import UnexpectedReply
from bench.stack import BenchProgram, BenchStack
from runtime.auth import Role
from runtime.messaging.streams import EVENTS_STREAM
from services.billing.entrypoints.consumers import DURABLE
from services.billing.service_layer.feeds import FEEDS
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tamaru.billing.v1 import billing_pb2, billing_pb2_grpc

SERVICES = ("accounts", "billing")
# Every feed billing reads, whichever it has (a list of names here once missed the earn
# feed): each would otherwise apply the purchases and orders scenarios' events while those
# are measured.
DURABLES = tuple(FEEDS)
BILLED_SUBJECTS = ("tamaru.evt.*.accounts.>", "tamaru.evt.*.redeem.>")
ZONE = "Asia/Tokyo"
AMOUNT = 10
MEMBERS = 1_000
CREDITS_PER_CALL = 500
SOURCE = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id="bench")
TIMEOUT = 60.0


def _period() -> str:
    return datetime.now(ZoneInfo(ZONE)).strftime("%Y-%m")


async def pause_consumers(stack: BenchStack) -> None:
    """Billing created its durables at start; paused for a day, they deliver nothing until
    this scenario resumes them."""
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for durable in DURABLES:
        for attempt in range(50):
            try:
                await stack.js.pause_consumer(EVENTS_STREAM, durable, until)
                break
            except Exception:  # not created yet: billing creates it as it starts
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)


async def _pending(stack: BenchStack) -> int:
    info = await stack.js.consumer_info(EVENTS_STREAM, DURABLE)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def _make_backlog(ctx: BenchContext, program: BenchProgram, pool: Population) -> int:
    """`billing_events` sponsor-funded credits through accounts' BatchCredit, published."""
    total = ctx.sizes.billing_events
    async with grpc.aio.insecure_channel(ctx.stack.service("accounts").target) as channel:
        stub = accounts_pb2_grpc.AccountsServiceStub(channel)
        with ctx.console.bar("billing backlog (BatchCredit)", total) as bar:
            for start in range(0, total, CREDITS_PER_CALL):
                n = min(CREDITS_PER_CALL, total - start)
                entries = [
                    accounts_pb2.BatchCreditEntry(
                        member=members_pb2.MemberSelector(
                            account_id=pool.account_id((start + i) % pool.size)
                        ),
                        amount=AMOUNT,
                        source=SOURCE,
                        reason="bench",
                        sponsor_funded=True,
                    )
                    for i in range(n)
                ]
                reply = await stub.BatchCredit(
                    accounts_pb2.BatchCreditRequest(
                        idempotency_key=str(uuid.uuid4()), entries=entries
                    ),
                    metadata=program.metadata(),
                    timeout=TIMEOUT,
                )
                if reply.credited != n:
                    raise UnexpectedReply(f"{reply.rejected} of {n} credits rejected")
                bar.advance(n)
    await ctx.outbox_settled("accounts")
    return total


async def _charges(conn: Conn, program_id: str) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FROM billing.point_charges WHERE program_id = %s", (program_id,)
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _drain(ctx: BenchContext, program_id: str, expected: int) -> int:
    """Resume billing's consumer; the charges made until all `expected` are (or until it
    stalls for a minute: a missing charge is an error, not a faster figure)."""
    async with await psycopg.AsyncConnection.connect(ctx.stack.dsn, autocommit=True) as conn:
        await ctx.stack.js.resume_consumer(EVENTS_STREAM, DURABLE)
        seen, progressed = 0, time.perf_counter()
        while seen < expected and time.perf_counter() - progressed < 60:
            await asyncio.sleep(0.05)
            now = await _charges(conn, program_id)
            if now > seen:
                seen, progressed = now, time.perf_counter()
        return seen


_RAW_TABLES = {
    "billing_inbox_events": "billing.inbox_events",
    "billing_point_charges": "billing.point_charges",
    "billing_usage_counters": "billing.billing_usage_counters",
    "billing_member_activity": "billing.billing_member_activity",
}
_COUNT = (
    "INSERT INTO raw.billing_usage_counters (program_id, period, metric, key, value) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (program_id, period, metric, key) "
    "DO UPDATE SET value = raw.billing_usage_counters.value + excluded.value"
)


async def _raw_tables(dsn: str, program_id: str, period: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for raw, table in _RAW_TABLES.items():
            await conn.execute(f"CREATE TABLE IF NOT EXISTS raw.{raw} (LIKE {table} INCLUDING ALL)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS raw.billing_drafts (program_id text, period text, "
            "points bigint, amount_yen bigint, PRIMARY KEY (program_id, period))"
        )
        await conn.execute(
            "INSERT INTO raw.billing_drafts VALUES (%s, %s, 0, 0)", (program_id, period)
        )


async def raw_apply(dsn: str, pool: Population, events: int) -> int:
    """The backlog's events applied by plain SQL on one connection (like the consumer), one
    transaction per event."""
    program, period = pool.program_id, _period()
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for n in range(events):
            event_id, account = str(uuid.uuid4()), pool.account_id(n % pool.size)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO raw.billing_inbox_events (consumer, event_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (DURABLE, event_id),
                )
                for metric, key in (("granted", "rule:bench"), ("liability", ""),
                                    ("granted_sponsor_funded", "")):  # fmt: skip
                    await conn.execute(_COUNT, (program, period, metric, key, AMOUNT))
                await conn.execute(
                    "INSERT INTO raw.billing_member_activity (program_id, period, account_id) "
                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (program, period, account),
                )
                await conn.execute(
                    "INSERT INTO raw.billing_point_charges (event_id, program_id, account_id, "
                    "transaction_id, occurred_at, occurred_period, billed_period, points, "
                    "unit_yen, amount_yen, reversal, source_key) VALUES (%s, %s, %s, %s, %s, "
                    "%s, %s, %s, 1, %s, false, 'rule:bench') ON CONFLICT (event_id) DO NOTHING",
                    (event_id, program, account, str(uuid.uuid4()), datetime.now(UTC), period,
                     period, AMOUNT, AMOUNT),
                )  # fmt: skip
                await conn.execute(
                    "UPDATE raw.billing_drafts SET points = points + %s, amount_yen = "
                    "amount_yen + %s WHERE program_id = %s AND period = %s",
                    (AMOUNT, AMOUNT, program, period),
                )
    return events


class ReportClient:
    def __init__(self, target: str, program: BenchProgram, expected_points: int) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = billing_pb2_grpc.BillingServiceStub(self._channel)
        self._metadata = program.metadata(Role.ADMIN)
        self._expected = expected_points

    async def usage_report(self, client: int) -> int:
        reply = await self._stub.GetUsageReport(
            billing_pb2.GetUsageReportRequest(period=_period()),
            metadata=self._metadata,
            timeout=TIMEOUT,
        )
        if reply.report.points_granted_sponsor_funded != self._expected:
            raise UnexpectedReply(
                f"report shows {reply.report.points_granted_sponsor_funded} sponsor-funded "
                f"points, {self._expected} were credited"
            )
        return 1

    async def invoice(self, client: int) -> int:
        reply = await self._stub.GetInvoice(
            billing_pb2.GetInvoiceRequest(period=_period()),
            metadata=self._metadata,
            timeout=TIMEOUT,
        )
        if reply.invoice.subtotal_yen < self._expected:
            raise UnexpectedReply(
                f"the draft's subtotal {reply.invoice.subtotal_yen} yen does not cover the "
                f"{self._expected} points charged"
            )
        return 1

    async def close(self) -> None:
        await self._channel.close()


class RawReports:
    """What the two reads query, by plain SQL on billing's own tables (rolled back)."""

    def __init__(self, conns: list[Conn], program_id: str) -> None:
        self.conns = conns
        self.program = program_id

    async def _run(self, client: int, statements: list[tuple[str, tuple[object, ...]]]) -> int:
        conn = self.conns[client]
        async with conn.transaction(force_rollback=True):
            for sql, params in statements:
                await (await conn.execute(sql, params)).fetchall()
        return 1

    def _window(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(ZONE)
        start = datetime.now(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, (start + timedelta(days=32)).replace(day=1)

    async def usage_report(self, client: int) -> int:
        p, period = self.program, _period()
        start, end = self._window()
        return await self._run(client, [
            ("SELECT metric, key, value FROM billing.billing_usage_counters "
             "WHERE program_id = %s AND period = %s", (p, period)),
            ("SELECT count(*) FILTER (WHERE enrolled_at >= %s AND enrolled_at < %s), "
             "count(*) FILTER (WHERE closed_at >= %s AND closed_at < %s), count(*) FILTER "
             "(WHERE enrolled_at < %s AND (closed_at IS NULL OR closed_at >= %s)) "
             "FROM billing.billed_members WHERE program_id = %s",
             (start, end, start, end, end, end, p)),
            ("SELECT count(*) FROM billing.billing_member_activity "
             "WHERE program_id = %s AND period = %s", (p, period)),
            ("SELECT count(*) FROM billing.billed_members WHERE program_id = %s AND "
             "enrolled_at < %s AND (closed_at IS NULL OR closed_at >= %s)", (p, end, start)),
            ("SELECT tier_id, count(*) FROM (SELECT DISTINCT ON (account_id) account_id, "
             "tier_id FROM billing.billing_tier_changes WHERE program_id = %s AND "
             "changed_at < %s ORDER BY account_id, changed_at DESC) t GROUP BY tier_id", (p, end)),
            ("SELECT coalesce(sum(value), 0) FROM billing.billing_usage_counters WHERE "
             "program_id = %s AND metric = 'liability' AND period <= %s", (p, period)),
        ])  # fmt: skip

    async def invoice(self, client: int) -> int:
        p, period = self.program, _period()
        start, end = self._window()
        return await self._run(client, [
            ("SELECT invoice_id, status FROM billing.invoices WHERE program_id = %s AND "
             "period = %s AND kind = 'invoice' AND status <> 'void' FOR UPDATE", (p, period)),
            ("SELECT count(*) FROM billing.billed_members WHERE program_id = %s AND "
             "enrolled_at < %s AND (closed_at IS NULL OR closed_at >= %s)", (p, end, start)),
            ("SELECT occurred_period, unit_yen, reversal, sum(points) FROM "
             "billing.point_charges WHERE program_id = %s AND billed_period = %s "
             "GROUP BY occurred_period, unit_yen, reversal", (p, period)),
            ("SELECT coalesce(sum(amount_yen), 0) FROM billing.point_charges WHERE "
             "program_id = %s AND occurred_at >= %s AND occurred_at < %s",
             (p, start - timedelta(days=335), end)),
            ("SELECT l.* FROM billing.invoice_lines l JOIN billing.invoices i USING "
             "(invoice_id) WHERE i.program_id = %s AND i.period = %s ORDER BY l.line_no",
             (p, period)),
        ])  # fmt: skip


async def run(ctx: BenchContext) -> list[Figure]:
    s, billing = ctx.sizes, ctx.stack.service("billing")
    await ctx.outbox_settled("accounts")
    for subject in BILLED_SUBJECTS:  # what earlier scenarios left for billing
        await ctx.stack.js.purge_stream(EVENTS_STREAM, subject=subject)
    program = await ctx.stack.create_program(SERVICES, prefix="billing")
    pool = Population.new(program.program_id, min(MEMBERS, s.billing_events), [LotSpec(100, None)])
    await load_population(ctx.stack.dsn, pool, ctx.console)
    await _raw_tables(ctx.stack.dsn, program.program_id, _period())

    baseline = await ctx.measure_once(
        f"billing: raw PostgreSQL applies {s.billing_events:,} events",
        lambda: raw_apply(ctx.stack.dsn, pool, s.billing_events),
        pid=billing.pid,
    )
    events = await _make_backlog(ctx, program, pool)
    pending = await _pending(ctx.stack)
    measured = await ctx.measure_once(
        f"billing: consumer drains {pending:,} events into charges",
        lambda: _drain(ctx, program.program_id, events),
        pid=billing.pid,
        profile_as="billing_drain",
    )
    if measured.entries != events:
        measured.errors += 1
        measured.error_samples.append(f"{measured.entries} charges, {events} events")
    figures = [
        Figure(
            scenario="billing",
            operation="billing_drain",
            title=f"Billing consumer: backlog of {events:,} points_credited into charges",
            unit="events/s",
            service=measured,
            baseline=baseline,
            notes=[
                f"{pending:,} events were pending on {DURABLE} when it was resumed",
                "the baseline keeps the draft's total by adding each charge; the service "
                "recomputes the period's draft from all its charges on every event",
            ],
        )
    ]
    figures += await _reads(ctx, program, events * AMOUNT)
    return figures


async def _reads(ctx: BenchContext, program: BenchProgram, points: int) -> list[Figure]:
    s, billing = ctx.sizes, ctx.stack.service("billing")
    clients = s.report_clients
    conns = await connect_many(ctx.stack.dsn, clients)
    raw = RawReports(conns, program.program_id)
    client = ReportClient(billing.target, program, points)
    figures = []
    try:
        for operation, title, raw_op, grpc_op in (
            ("usage_report", "GetUsageReport", raw.usage_report, client.usage_report),
            ("invoice_draft", "GetInvoice (the period's draft)", raw.invoice, client.invoice),
        ):
            baseline = await ctx.measure(
                f"{title}: raw PostgreSQL", raw_op, clients=clients, pid=billing.pid
            )
            measured = await ctx.measure(
                f"{title}: gRPC", grpc_op, clients=clients, pid=billing.pid, profile_as=operation
            )
            figures.append(_read_figure(operation, title, clients, measured, baseline))
    finally:
        await client.close()
        await close_all(conns)
    return figures


def _read_figure(
    operation: str, title: str, clients: int, measured: Stats, baseline: Stats
) -> Figure:
    return Figure(
        scenario="billing",
        operation=operation,
        title=f"{title} after the backlog ({clients} client{'s' * (clients > 1)})",
        unit="reads/s",
        service=measured,
        baseline=baseline,
        notes=[f"{title}: the program's month holds the backlog's charges and counters"],
    )


SCENARIO = Scenario("billing", SERVICES, run, prepare=pause_consumers)
