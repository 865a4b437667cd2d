"""Racing spends against PostgreSQL: no overdraft, no double-spend between holds, spends and the
expiry sweeper; holds settle exactly once (the database refuses a second settlement)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from runtime.db.unit_of_work import run_in_transaction
from runtime.errors import FailedPrecondition
from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from services.accounts.domain.commands import ReleaseHold
from services.accounts.entrypoints.sweeper_worker import LedgerSweeper
from services.accounts.service_layer.ledger import Ledger
from services.accounts.service_layer.program_policy import ledger_policy
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import outbox_events
from tests.support.services import create_program


async def test_fifty_concurrent_debits_on_ten_points_exactly_ten_succeed(
    accounts: Accounts,
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 10)

    async def spend() -> str:
        try:
            await accounts.debit(member, 1)
            return "ok"
        except grpc.aio.AioRpcError as err:
            return str(err.code().name)

    outcomes = await asyncio.gather(*(spend() for _ in range(50)))
    assert outcomes.count("ok") == 10
    assert outcomes.count("FAILED_PRECONDITION") == 40
    assert (await accounts.balance(member)).available == 0
    verified = await accounts.verify()
    assert verified.consistent, verified.problems


def selector(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


ORDER = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="order-1")


async def place_hold(
    client: CommandClient,
    program_id: str,
    account_id: str,
    amount: int,
    key: str | None = None,
    ttl_seconds: int = 600,
) -> c.LedgerCommandServicePlaceHoldResponse:
    return await client.call(
        "accounts",
        "PlaceHold",
        c.LedgerCommandServicePlaceHoldRequest(
            member=selector(account_id), amount=amount, ttl_seconds=ttl_seconds, source=ORDER
        ),
        c.LedgerCommandServicePlaceHoldResponse,
        program_id=program_id,
        idempotency_key=key or str(uuid.uuid4()),
    )


async def test_holds_and_debits_racing_never_spend_a_point_twice(
    accounts: Accounts, admin_nc: Client
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 30)
    client = CommandClient(admin_nc)
    program_id = accounts.program.program_id

    async def hold() -> int:
        try:
            return (await place_hold(client, program_id, member, 4)).hold.amount
        except FailedPrecondition:
            return 0

    async def debit() -> int:
        try:
            await accounts.debit(member, 3)
            return 3
        except grpc.aio.AioRpcError:
            return 0

    taken = await asyncio.gather(*(hold() if i % 2 else debit() for i in range(20)))
    balance = await accounts.balance(member)
    assert sum(taken) == 30 - balance.available
    assert balance.available >= 0
    assert balance.held == sum(t for i, t in enumerate(taken) if i % 2)
    assert (await accounts.verify()).consistent


async def test_a_hold_settles_exactly_once(accounts: Accounts, admin_nc: Client) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 100)
    client = CommandClient(admin_nc)
    program_id = accounts.program.program_id
    held = await place_hold(client, program_id, member, 60)
    assert (await accounts.balance(member)).held == 60

    async def capture() -> str:
        try:
            await client.call(
                "accounts",
                "CaptureHold",
                c.LedgerCommandServiceCaptureHoldRequest(hold_id=held.hold.hold_id),
                c.LedgerCommandServiceCaptureHoldResponse,
                program_id=program_id,
                idempotency_key=str(uuid.uuid4()),
            )
            return "captured"
        except FailedPrecondition as exc:
            return exc.reason

    async def release() -> str:
        try:
            await client.call(
                "accounts",
                "ReleaseHold",
                c.LedgerCommandServiceReleaseHoldRequest(hold_id=held.hold.hold_id),
                c.LedgerCommandServiceReleaseHoldResponse,
                program_id=program_id,
                idempotency_key=str(uuid.uuid4()),
            )
            return "released"
        except FailedPrecondition as exc:
            return exc.reason

    outcomes = await asyncio.gather(capture(), release(), capture(), release())
    winners = [o for o in outcomes if o in {"captured", "released"}]
    assert len(winners) == 1, outcomes
    assert set(outcomes) - set(winners) == {"HOLD_ALREADY_SETTLED"}
    balance = await accounts.balance(member)
    assert balance.held == 0
    assert balance.available == (40 if winners == ["captured"] else 100)
    assert (await accounts.verify()).consistent


async def test_the_database_refuses_a_second_settlement(accounts_app: ServiceApp) -> None:
    """Even code that skipped the domain's check cannot change a settled hold."""
    assert accounts_app.ctx is not None
    async with accounts_app.ctx.session_factory() as session, session.begin():
        hold_id = str(uuid.uuid4())
        await session.execute(
            text(
                "INSERT INTO holds (hold_id, program_id, account_id, amount, status, created_at,"
                " expires_at, captured_amount, source_type, source_id, reason, actor,"
                " idempotency_key) VALUES (:h, 'p', 'a', 5, 'released', now(), now(), 0,"
                " 'order', '', '', '', '')"
            ),
            {"h": hold_id},
        )
        with pytest.raises(DBAPIError, match="already released"):
            async with session.begin_nested():
                await session.execute(
                    text("UPDATE holds SET status = 'captured' WHERE hold_id = :h"), {"h": hold_id}
                )
        await session.rollback()


async def test_sweeper_expires_due_lots_holds_keep_theirs_until_released(
    channel: grpc.aio.Channel, accounts_app: ServiceApp, admin_nc: Client, js: JetStreamContext
) -> None:
    """12-month expiry: lots earned ~12 months ago are due a few days from now. Swept 10 days
    later, unheld points expire; held points stay with the hold and expire the moment the hold
    is released. Sweeping again changes nothing."""
    assert accounts_app.ctx is not None
    program = await create_program(
        js,
        ["accounts"],
        expiry={"mode": "monthsAfterEarn", "months": 12},
    )
    acc = Accounts(channel, program)
    member = await acc.enrol()
    earned = ledger_pb2.Balance().next_expiry_at  # a Timestamp message
    earned.FromDatetime(datetime.now(UTC) - timedelta(days=360))
    await acc.credit(member, 50, earned_at=earned)
    client = CommandClient(admin_nc)
    held = await place_hold(client, program.program_id, member, 20, ttl_seconds=20 * 86400)

    later = datetime.now(UTC) + timedelta(days=10)  # past the lot's expiry, within the hold's
    sweeper = LedgerSweeper(accounts_app.ctx.uow, clock=lambda: later)
    expired, _ = await sweeper.run_once()
    assert expired == 1
    assert await sweeper.run_once() == (0, 0)  # idempotent
    balance = await acc.balance(member)
    assert (balance.available, balance.held) == (0, 20)

    # Released (by the service layer, on the same clock) after its lot expired:
    ledger = Ledger(
        program.program_id,
        ledger_policy(accounts_app.ctx.programs.spec(program.program_id)),
        clock=lambda: later,
    )
    plan = await run_in_transaction(
        accounts_app.ctx.uow,
        lambda uow: ledger.release_hold(uow, ReleaseHold(hold_id=held.hold.hold_id)),
    )
    expired_now = sum(t.amount for t in plan.transactions if t.type.value == "expiry")
    assert expired_now == 20  # its lot expired meanwhile: the points expire at once
    balance = await acc.balance(member)
    assert (balance.available, balance.held) == (0, 0)
    verified = await acc.verify()
    assert verified.consistent, verified.problems
    assert (verified.issued, verified.expired) == (50, 50)


async def test_sweeping_while_holding_never_double_spends(
    channel: grpc.aio.Channel, accounts_app: ServiceApp, admin_nc: Client, js: JetStreamContext
) -> None:
    assert accounts_app.ctx is not None
    program = await create_program(
        js,
        ["accounts"],
        expiry={"mode": "monthsAfterEarn", "months": 12},
    )
    acc = Accounts(channel, program)
    member = await acc.enrol()
    for days_ago, amount in ((364, 30), (10, 30)):
        earned = ledger_pb2.Balance().next_expiry_at
        earned.FromDatetime(datetime.now(UTC) - timedelta(days=days_ago))
        await acc.credit(member, amount, earned_at=earned)
    client = CommandClient(admin_nc)
    sweeper = LedgerSweeper(
        accounts_app.ctx.uow, clock=lambda: datetime.now(UTC) + timedelta(days=5)
    )

    async def hold() -> int:
        try:
            return (await place_hold(client, program.program_id, member, 7)).hold.amount
        except FailedPrecondition:
            return 0

    results = await asyncio.gather(*(hold() for _ in range(10)), sweeper.run_once())
    held = sum(r for r in results[:10] if isinstance(r, int))
    balance = await acc.balance(member)
    assert balance.held == held
    assert balance.available >= 0
    verified = await acc.verify()
    assert verified.consistent, verified.problems
    # Everything issued is accounted for exactly once.
    assert verified.issued == verified.member_balances + verified.held + verified.expired


async def test_sweepers_running_at_once_expire_every_due_lot_exactly_once(
    channel: grpc.aio.Channel, accounts_app: ServiceApp, js: JetStreamContext
) -> None:
    """Two sweepers of two workers each, in batches of 5 lots: they lock lots and accounts with
    SKIP LOCKED and never wait for each other. Every due lot expires once, every point is
    accounted for, and the events name each lot once."""
    assert accounts_app.ctx is not None
    program = await create_program(
        js, ["accounts"], expiry={"mode": "monthsAfterEarn", "months": 12}
    )
    acc = Accounts(channel, program)
    members = [await acc.enrol() for _ in range(12)]
    earned = ledger_pb2.Balance().next_expiry_at
    earned.FromDatetime(datetime.now(UTC) - timedelta(days=364))
    source = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN)
    entries = [
        accounts_pb2.BatchCreditEntry(
            member=selector(m), amount=10 + i, source=source, earned_at=earned
        )
        for m in members
        for i in range(3)
    ]
    reply = await acc.call(
        "BatchCredit",
        accounts_pb2.BatchCreditRequest(idempotency_key=str(uuid.uuid4()), entries=entries),
    )
    assert reply.credited == 36
    lot_ids = sorted(r.result.lot_id for r in reply.results)
    later = datetime.now(UTC) + timedelta(days=5)
    sweepers = [
        LedgerSweeper(accounts_app.ctx.uow, clock=lambda: later, batch_size=5, expiry_workers=2)
        for _ in range(2)
    ]

    await asyncio.gather(*(s.run_once() for s in sweepers))

    assert [(await acc.balance(m)).available for m in members] == [0] * 12
    verified = await acc.verify()
    assert verified.consistent, verified.problems
    assert (verified.issued, verified.expired) == (12 * 33, 12 * 33)
    events = await outbox_events(accounts_app, program.program_id, "points_expired")
    assert sorted(d.lot_id for e in events for d in e.lots) == lot_ids
    assert sum(e.amount for e in events) == 12 * 33
