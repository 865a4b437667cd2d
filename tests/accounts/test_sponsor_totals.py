"""GetSponsorFundedTotals: the journal's sponsor-funded credits and clawbacks per period, the
ledger-side source billing reconciles against (no stream retention involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import text

from runtime.errors import InvalidArgument
from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import key, outbox_events
from tests.support.services import create_program

RETURN = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="return-1")


def stamps(*instants: datetime) -> list[Timestamp]:
    out = []
    for at in instants:
        stamp = Timestamp()
        stamp.FromDatetime(at)
        out.append(stamp)
    return out


async def totals(
    nc: Client, program_id: str, *boundaries: datetime
) -> c.LedgerCommandServiceGetSponsorFundedTotalsResponse:
    return await CommandClient(nc).call(
        "accounts",
        "GetSponsorFundedTotals",
        c.LedgerCommandServiceGetSponsorFundedTotalsRequest(boundaries=stamps(*boundaries)),
        c.LedgerCommandServiceGetSponsorFundedTotalsResponse,
        program_id=program_id,
    )


def row(period: Any) -> tuple[int, int, int, int]:
    return (period.credited_points, period.credits, period.clawed_back_points, period.clawbacks)


async def reverse(accounts: Accounts, tx_id: str, amount: int = 0) -> Any:
    reply = await accounts.call(
        "ReverseTransaction",
        accounts_pb2.ReverseTransactionRequest(
            idempotency_key=key(),
            transaction_id=tx_id,
            amount=amount,
            source=RETURN,
            reason="returned",
        ),
    )
    return reply.result


async def move_transaction(app: ServiceApp, tx_id: str, to: datetime) -> None:
    """Simulates history: the transaction happened at `to` (the ledger itself stamps every
    transaction with the moment it is written)."""
    assert app.ctx is not None
    async with app.ctx.uow() as uow:
        await uow.session.execute(
            text("UPDATE ledger_transactions SET occurred_at = :to WHERE tx_id = :tx"),
            {"to": to, "tx": tx_id},
        )
        await uow.commit()


async def test_totals_per_period_match_the_journal_and_its_events(
    accounts: Accounts, accounts_app: ServiceApp, admin_nc: Client
) -> None:
    program = accounts.program.program_id
    alice, bob, carol = [await accounts.enrol() for _ in range(3)]
    welcome = (await accounts.credit(alice, 1_000, sponsor_funded=True)).result.transaction_id
    await accounts.credit(bob, 300, sponsor_funded=True)
    await accounts.credit(carol, 500)  # the program pays, not the sponsor: never counted
    assert (await reverse(accounts, welcome, 200)).clawed_back == 200
    spent = (await accounts.credit(carol, 40, sponsor_funded=True)).result.transaction_id
    await accounts.debit(carol, 540)
    owed = await reverse(accounts, spent)  # spent already: taken back as a deficit
    assert (owed.clawed_back, owed.shortfall) == (40, 0)
    september = (await accounts.credit(bob, 70, sponsor_funded=True)).result.transaction_id
    await move_transaction(accounts_app, september, datetime(2026, 9, 15, 3, 0, tzinfo=UTC))

    now = datetime.now(UTC)
    sep, oct_, dec = (datetime(2026, m, 1, tzinfo=UTC) for m in (9, 10, 12))
    reply = await totals(admin_nc, program, sep, oct_, dec, now + timedelta(hours=1))
    assert [row(p) for p in reply.periods] == [
        (70, 1, 0, 0),  # September: the moved credit alone
        (0, 0, 0, 0),  # October and November: nothing
        (1_340, 3, 240, 2),  # December: 1,000 + 300 + 40 credited; 200 and 40 clawed back
    ]
    assert [p.start.ToDatetime(tzinfo=UTC) for p in reply.periods] == [sep, oct_, dec]
    assert reply.first_occurred_at.ToDatetime(tzinfo=UTC) == datetime(2026, 9, 15, 3, tzinfo=UTC)

    # The same facts the events announce (what billing charges from).
    credited = await outbox_events(accounts_app, program, "points_credited")
    reversed_ = await outbox_events(accounts_app, program, "transaction_reversed")
    announced = sum(e.amount for e in credited if e.sponsor_funded) - sum(
        e.result.clawed_back for e in reversed_ if e.sponsor_funded
    )
    net = sum(p.credited_points - p.clawed_back_points for p in reply.periods)
    assert net == announced == 1_410 - 240


async def test_totals_never_count_another_programs_journal(
    accounts: Accounts,
    accounts_app: ServiceApp,
    admin_nc: Client,
    js: JetStreamContext,
    channel: Any,
) -> None:
    stop_at_zero = {"returnPolicy": {"clawback": "stopAtZero"}}
    other = Accounts(channel, await create_program(js, ["accounts"], earn=stop_at_zero))
    mine, theirs, spender = await accounts.enrol(), await other.enrol(), await other.enrol()
    await accounts.credit(mine, 10, sponsor_funded=True)
    tx = (await other.credit(theirs, 5_000, sponsor_funded=True)).result.transaction_id
    await reverse(other, tx, 1_000)
    spent = (await other.credit(spender, 30, sponsor_funded=True)).result.transaction_id
    await other.debit(spender, 30)
    gone = await reverse(other, spent)  # nothing left to take back: a shortfall, no clawback
    assert (gone.clawed_back, gone.shortfall) == (0, 30)
    window = (datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1))

    [period] = (await totals(admin_nc, accounts.program.program_id, *window)).periods
    assert row(period) == (10, 1, 0, 0)
    [period] = (await totals(admin_nc, other.program.program_id, *window)).periods
    assert row(period) == (5_030, 2, 1_000, 1)

    # A command for one program whose message names another is refused.
    with pytest.raises(InvalidArgument) as refused:
        await CommandClient(admin_nc).call(
            "accounts",
            "GetSponsorFundedTotals",
            c.LedgerCommandServiceGetSponsorFundedTotalsRequest(
                program_id=other.program.program_id, boundaries=stamps(*window)
            ),
            c.LedgerCommandServiceGetSponsorFundedTotalsResponse,
            program_id=accounts.program.program_id,
        )
    assert refused.value.field == "program_id"


async def test_span_only_and_bad_boundaries(accounts: Accounts, admin_nc: Client) -> None:
    program = accounts.program.program_id
    empty = await totals(admin_nc, program)
    assert list(empty.periods) == []
    assert not empty.HasField("first_occurred_at")
    assert not empty.HasField("last_occurred_at")

    await accounts.credit(await accounts.enrol(), 5, sponsor_funded=True)
    span = await totals(admin_nc, program)
    assert list(span.periods) == []
    assert span.first_occurred_at == span.last_occurred_at
    assert abs(span.first_occurred_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)) < timedelta(
        minutes=1
    )

    now = datetime.now(UTC)
    with pytest.raises(InvalidArgument) as backwards:
        await totals(admin_nc, program, now, now - timedelta(days=1))
    assert backwards.value.field == "boundaries[1]"
    with pytest.raises(InvalidArgument) as single:
        await totals(admin_nc, program, now)
    assert single.value.field == "boundaries"
    with pytest.raises(InvalidArgument) as too_many:
        await totals(admin_nc, program, *(now + timedelta(hours=h) for h in range(1_202)))
    assert too_many.value.field == "boundaries"
