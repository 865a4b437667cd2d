"""Each event takes effect once and in any order: duplicated and reordered events change
nothing, and billing restarted mid-stream catches up and reconciles."""

from __future__ import annotations

import uuid
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import text

from runtime.messaging.streams import EVENTS_STREAM
from runtime.service import ServiceApp
from services.billing.adapters.stream_replay import replay
from services.billing.entrypoints.consumers import DURABLE
from tamaru.accounts.v1 import events_pb2, ledger_pb2
from tamaru.billing.v1 import billing_pb2
from tamaru.common.v1 import common_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.billing.test_charges_and_reports import CRITERION, this_month
from tests.support.polling import eventually
from tests.support.services import TestProgram, create_program


async def activity(accounts: Accounts) -> list[str]:
    """A month of activity: members, grants (sponsor-funded or not), a return, a spend, thanks."""
    members = [await accounts.enrol(f"m{i}-{uuid.uuid4().hex[:6]}") for i in range(3)]
    first = await accounts.credit(members[0], 2_000, source=CRITERION)
    await accounts.credit(members[1], 400)
    await accounts.credit(members[2], 900, sponsor_funded=False)
    await accounts.reverse(first, 500)
    await accounts.debit(members[1], 150)
    await accounts.thank(members[0], members[2], 30)
    return members


async def settled(billing: Billing) -> Any:
    """The invoice once billing has applied every event of `activity`."""
    await eventually(
        lambda: billing.report(this_month()),
        lambda r: r.thanks_points == 30 and r.points_spent == 150 and r.points_clawed_back == 500,
    )
    return await eventually(
        lambda: billing.invoice(this_month()),
        lambda inv: inv.facts.charged_points == 1_900 and inv.facts.issued_member_ids == 3,
    )


async def snapshot(billing: Billing) -> tuple[Any, Any]:
    invoice = await billing.invoice(this_month())
    report = await billing.report(this_month())
    return invoice, report


async def program_events(js: JetStreamContext, program_id: str) -> list[common_pb2.EventEnvelope]:
    return [e async for e in replay(js, f"tamaru.evt.{program_id}.accounts.>")]


async def publish(js: JetStreamContext, envelope: common_pb2.EventEnvelope) -> int:
    subject = f"tamaru.evt.{envelope.program_id}.accounts.{envelope.event_type}"
    # A fresh Nats-Msg-Id, so JetStream stores the copy and billing really receives it twice.
    ack = await js.publish(
        subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": uuid.uuid4().hex}
    )
    return int(ack.seq)


async def wait_consumed(js: JetStreamContext, seq: int) -> None:
    """Until billing's durable consumer has acked everything up to stream sequence `seq`."""

    async def floor() -> int:
        info = await js.consumer_info(EVENTS_STREAM, DURABLE)
        return info.ack_floor.stream_seq if info.ack_floor else 0

    await eventually(floor, lambda f: f >= seq)


async def test_duplicated_events_change_nothing(
    accounts: Accounts, billing: Billing, js: JetStreamContext
) -> None:
    await activity(accounts)
    await settled(billing)
    before = await snapshot(billing)
    events = await program_events(js, billing.program.program_id)
    assert len(events) >= 9
    last = 0
    for envelope in reversed(events):  # again, and in reverse order
        last = await publish(js, envelope)
    await wait_consumed(js, last)
    assert await snapshot(billing) == before


def moved(envelope: common_pb2.EventEnvelope, program_id: str) -> common_pb2.EventEnvelope:
    """The same event, as if it had happened in another program (a new event id)."""
    payload_type = getattr(events_pb2, envelope.payload_type.rsplit(".", 1)[-1])
    payload = payload_type.FromString(envelope.payload)
    payload.program_id = program_id
    copy = common_pb2.EventEnvelope()
    copy.CopyFrom(envelope)
    copy.event_id = uuid.uuid4().hex
    copy.program_id = program_id
    copy.payload = payload.SerializeToString()
    return copy


async def test_events_in_reverse_order_give_the_same_invoice_and_report(
    accounts: Accounts,
    billing: Billing,
    js: JetStreamContext,
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
) -> None:
    members = await activity(accounts)
    original = await settled(billing)
    original_report = await billing.report(this_month())
    events = await program_events(js, billing.program.program_id)

    other: TestProgram = await create_program(js, ["accounts", "billing"])
    mirror = Billing(billing_process, other)
    try:
        copies = [moved(e, other.program_id) for e in events]
        # A member closes (accounts will announce it as member_status_changed) later than all
        # of the above, but billing hears of it first.
        enrolled = next(e for e in events if e.event_type == "member_enrolled")
        closing = events_pb2.MemberStatusChanged(
            program_id=other.program_id,
            account_id=members[2],
            old_status=ledger_pb2.ACCOUNT_STATUS_ACTIVE,
            new_status=ledger_pb2.ACCOUNT_STATUS_CLOSED,
            reason="left",
        )
        close = common_pb2.EventEnvelope(
            event_id=uuid.uuid4().hex,
            program_id=other.program_id,
            service="accounts",
            event_type="member_status_changed",
            payload_type="tamaru.accounts.v1.MemberStatusChanged",
            payload=closing.SerializeToString(),
            aggregate_id=members[2],
        )
        close.occurred_at.FromSeconds(max(e.occurred_at.seconds for e in events) + 1)
        assert enrolled.occurred_at.seconds < close.occurred_at.seconds
        last = await publish(js, close)
        for envelope in reversed(copies):
            last = await publish(js, envelope)
        await wait_consumed(js, last)

        mirrored = await mirror.invoice(this_month())
        # Closed during the month: the ID was still issued, so the invoice is the same.
        assert list(mirrored.lines) == list(original.lines)
        assert mirrored.facts.charged_points == original.facts.charged_points
        assert mirrored.total_yen == original.total_yen
        report = await mirror.report(this_month())
        assert report == original_report
        assert [(t.key[:3], t.points) for t in report.top_thanks_senders] == [("m0-", 30)]
        growth = await mirror.call("GetMemberGrowth", billing_pb2.GetMemberGrowthRequest())
        now = growth.periods[-1]
        assert (now.enrolled, now.closed, now.members_at_end, now.issued) == (3, 1, 2, 3)
    finally:
        await mirror.close()


async def test_billing_restarted_mid_stream_catches_up_and_reconciles(
    accounts: Accounts, billing: Billing, billing_process: BillingProcess
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 100)
    await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 100
    )
    await billing_process.stop()
    try:
        for amount in (10, 20, 30):
            await accounts.credit(member, amount)
        await accounts.credit(await accounts.enrol(), 5, sponsor_funded=False)
    finally:
        await billing_process.start()
    invoice = await eventually(
        lambda: billing.invoice(this_month()),
        lambda inv: inv.facts.charged_points == 160 and inv.facts.issued_member_ids == 2,
    )
    assert [line.amount_yen for line in invoice.lines][-1] == 160
    reconciled = await billing.call("Reconcile", billing_pb2.ReconcileRequest())
    assert reconciled.consistent
    assert [(p.stream_points, p.billed_points, p.stream_events) for p in reconciled.periods] == [
        (160, 160, 4)
    ]


async def test_reconcile_finds_a_charge_the_stream_does_not_have(
    accounts: Accounts, billing: Billing, billing_process: BillingProcess
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 70)
    await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 70
    )
    assert billing_process.app is not None
    assert billing_process.app.ctx is not None
    async with billing_process.app.ctx.session_factory() as session:
        await session.execute(
            text("UPDATE point_charges SET points = points + 1 WHERE program_id = :p"),
            {"p": billing.program.program_id},
        )
        await session.commit()
    reconciled = await billing.call("Reconcile", billing_pb2.ReconcileRequest())
    assert not reconciled.consistent
    [row] = reconciled.periods
    assert (row.stream_points, row.billed_points, row.consistent) == (70, 71, False)
