"""points_expiring_soon: announced once per lot, N days ahead (the program's setting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from nats.js import JetStreamContext
from sqlalchemy import select

from runtime.db.plumbing import OutboxEvent
from runtime.service import ServiceApp
from services.accounts.entrypoints.sweeper_worker import LedgerSweeper
from tamaru.accounts.v1 import events_pb2, ledger_pb2
from tamaru.common.v1 import common_pb2
from tests.accounts.conftest import Accounts
from tests.support.services import create_program


async def test_reminder_sent_once_within_the_programs_horizon(
    channel: grpc.aio.Channel, accounts_app: ServiceApp, js: JetStreamContext
) -> None:
    assert accounts_app.ctx is not None
    program = await create_program(
        js,
        ["accounts"],
        expiry={"mode": "monthsAfterEarn", "months": 12},
        expiringSoonDays=30,
    )
    acc = Accounts(channel, program)
    member = await acc.enrol()
    soon, later = ledger_pb2.Balance().next_expiry_at, ledger_pb2.Balance().next_expiry_at
    soon.FromDatetime(datetime.now(UTC) - timedelta(days=350))  # expires in ~15 days
    later.FromDatetime(datetime.now(UTC) - timedelta(days=200))  # expires in ~5 months
    await acc.credit(member, 40, earned_at=soon)
    await acc.credit(member, 60, earned_at=later)

    days = {program.program_id: 30}
    sweeper = LedgerSweeper(accounts_app.ctx.uow, reminder_days=lambda: days)
    now = datetime.now(UTC)
    assert await sweeper.remind(now) == 1
    assert await sweeper.remind(now) == 0  # each lot is announced once

    async with accounts_app.ctx.session_factory() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.program_id == program.program_id,
                    OutboxEvent.subject.endswith(".points_expiring_soon"),
                )
            )
        ).all()
    assert len(rows) == 1
    envelope = common_pb2.EventEnvelope.FromString(rows[0].envelope)
    event = events_pb2.PointsExpiringSoon.FromString(envelope.payload)
    assert (event.account_id, event.amount, event.within_days) == (member, 40, 30)
