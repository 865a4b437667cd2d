"""Reconcile against accounts' journal (GetSponsorFundedTotals): periods the stream no longer
holds still reconcile, a missing charge is reported for its month only, and one program's
journal never counts for another. Real accounts and billing services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from nats.js import JetStreamContext
from sqlalchemy import text

from runtime.messaging.streams import EVENTS_STREAM
from runtime.service import ServiceApp
from tamaru.billing.v1 import billing_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.billing.test_charges_and_reports import this_month
from tests.support.polling import eventually
from tests.support.services import create_program

# 12:00 on 15 September in Tokyo (the test programs' zone): well inside the month.
SEPTEMBER = datetime(2026, 9, 15, 3, 0, tzinfo=UTC)


def rows_of(reply: Any) -> list[tuple[str, int, int, int, int, int, bool]]:
    return [
        (
            p.period,
            p.ledger_points,
            p.billed_points,
            p.difference,
            p.ledger_transactions,
            p.billed_events,
            p.consistent,
        )
        for p in reply.periods
    ]


async def execute(app: ServiceApp | None, sql: str, **params: Any) -> int:
    """One statement in a service's own schema (its session's search_path)."""
    assert app is not None
    assert app.ctx is not None
    async with app.ctx.session_factory() as session:
        result = await session.execute(text(sql), params)
        await session.commit()
        return int(getattr(result, "rowcount", 0))


async def move_to_september(
    accounts_service: ServiceApp, billing_process: BillingProcess, tx_id: str
) -> None:
    """Simulates history on both sides: the credit happened in September, and billing charged
    it then (the ledger stamps every transaction with the moment it is written)."""
    moved = await execute(
        accounts_service,
        "UPDATE ledger_transactions SET occurred_at = :at WHERE tx_id = :tx",
        at=SEPTEMBER,
        tx=tx_id,
    )
    charged = await execute(
        billing_process.app,
        "UPDATE point_charges SET occurred_at = :at, occurred_period = '2026-09'"
        " WHERE transaction_id = :tx",
        at=SEPTEMBER,
        tx=tx_id,
    )
    assert (moved, charged) == (1, 1)


async def reconcile(billing: Billing, first: str = "", last: str = "") -> Any:
    return await billing.call(
        "Reconcile", billing_pb2.ReconcileRequest(from_period=first, to_period=last)
    )


async def test_periods_the_stream_no_longer_holds_reconcile_from_the_ledger(
    accounts: Accounts,
    billing: Billing,
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
    js: JetStreamContext,
) -> None:
    now = this_month()
    alice, bob = await accounts.enrol(), await accounts.enrol()
    welcome = await accounts.credit(alice, 1_000)
    old = await accounts.credit(bob, 300)
    await accounts.credit(bob, 50, sponsor_funded=False)  # not the sponsor's: nowhere
    await accounts.reverse(welcome, 200)
    await eventually(lambda: billing.invoice(now), lambda inv: inv.facts.charged_points == 1_100)
    await move_to_september(accounts_service, billing_process, old)
    # Retention: the stream drops old events from its start, here all of them.
    await js.purge_stream(EVENTS_STREAM)

    reply = await reconcile(billing)
    assert reply.consistent
    assert rows_of(reply) == [
        ("2026-09", 300, 300, 0, 1, 1, True),
        (now, 800, 800, 0, 2, 2, True),
    ]
    assert all(p.partial and p.stream_events == 0 for p in reply.periods)
    assert [(p.ledger_credited_points, p.ledger_clawed_back_points) for p in reply.periods] == [
        (300, 0),
        (1_000, 200),
    ]
    assert not reply.HasField("stream_starts_at")
    assert reply.ledger_starts_at.ToDatetime(tzinfo=UTC) == SEPTEMBER

    only_september = await reconcile(billing, "2026-09", "2026-10")
    assert rows_of(only_september) == [("2026-09", 300, 300, 0, 1, 1, True)]

    # A lost charge (billing's own table) shows up in its month alone.
    deleted = await execute(
        billing_process.app,
        "DELETE FROM point_charges WHERE transaction_id = :tx AND program_id = :p",
        tx=welcome,
        p=billing.program.program_id,
    )
    assert deleted == 1
    reply = await reconcile(billing)
    assert not reply.consistent
    assert rows_of(reply) == [
        ("2026-09", 300, 300, 0, 1, 1, True),
        (now, 800, -200, -1_000, 2, 1, False),
    ]


async def test_another_programs_journal_never_counts(
    accounts: Accounts,
    billing: Billing,
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
    js: JetStreamContext,
) -> None:
    now = this_month()
    other_program = await create_program(js, ["accounts", "billing"])
    other_billing = Billing(billing_process, other_program)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as channel:
        other = Accounts(channel, other_program)
        await accounts.credit(await accounts.enrol(), 100)
        big = await other.credit(await other.enrol(), 5_000)
        await other.reverse(big, 1_000)
    try:
        await eventually(lambda: billing.invoice(now), lambda i: i.facts.charged_points == 100)
        await eventually(
            lambda: other_billing.invoice(now), lambda i: i.facts.charged_points == 4_000
        )
        mine, theirs = await reconcile(billing), await reconcile(other_billing)
    finally:
        await other_billing.close()
    assert rows_of(mine) == [(now, 100, 100, 0, 1, 1, True)]
    assert rows_of(theirs) == [(now, 4_000, 4_000, 0, 2, 2, True)]
    assert mine.consistent
    assert theirs.consistent
