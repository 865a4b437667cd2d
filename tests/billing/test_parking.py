"""Events of a program billing has no config for yet are parked (stored and acked), not
redelivered in a loop, and count once when the config arrives; an event that keeps failing is
parked as poison with its error and blocks nothing."""

from __future__ import annotations

import secrets
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

import services.billing.entrypoints.consumers as consumers
import services.billing.service_layer.intake as intake
from runtime.telemetry import metrics
from tamaru.common.v1 import common_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.billing.test_charges_and_reports import this_month
from tests.billing.test_exactly_once import (
    activity,
    moved,
    program_events,
    publish,
    settled,
    wait_consumed,
)
from tests.support.polling import eventually
from tests.support.services import create_program


async def parked(process: BillingProcess, program_id: str) -> dict[str, int]:
    """The program's parked events by reason."""
    assert process.app is not None
    assert process.app.ctx is not None
    async with process.app.ctx.session_factory() as session:
        rows = await session.execute(
            text(
                "SELECT reason, count(*) FROM billing_parked_events WHERE program_id = :p "
                "GROUP BY reason"
            ),
            {"p": program_id},
        )
        return {reason: int(n) for reason, n in rows.all()}


async def test_events_before_the_config_are_parked_then_count_once(
    accounts: Accounts, billing: Billing, js: JetStreamContext, billing_process: BillingProcess
) -> None:
    await activity(accounts)
    original = await settled(billing)
    original_report = await billing.report(this_month())
    events = await program_events(js, billing.program.program_id)

    late = f"t{secrets.token_hex(5)}"  # a program whose config billing has not seen yet
    copies = [moved(e, late) for e in events]
    credit = next(c for c in copies if c.event_type == "points_credited")
    last = 0
    for envelope in [*copies, credit]:  # the credit twice: a duplicate parked event
        last = await publish(js, envelope)
    # Acked, not nak'ed in a loop: the durable moves past them at once.
    await wait_consumed(js, last)
    assert await parked(billing_process, late) == {"unconfigured": len(copies) + 1}
    # Operators see them (the worker samples every few seconds).
    await eventually(lambda: _gauge("unconfigured"), lambda n: n >= len(copies) + 1, timeout=10)

    # Meanwhile another program's events go through without waiting.
    member = await accounts.enrol()
    await accounts.credit(member, 77)
    await eventually(
        lambda: billing.invoice(this_month()),
        lambda inv: inv.facts.charged_points == 1_977,
        timeout=5,
    )

    program = await create_program(js, ["accounts", "billing"], program_id=late)
    mirror = Billing(billing_process, program)
    try:
        invoice = await mirror.invoice(this_month())
        assert invoice.facts.charged_points == original.facts.charged_points == 1_900
        assert invoice.facts.issued_member_ids == 3
        assert list(invoice.lines) == list(original.lines)
        assert await mirror.report(this_month()) == original_report
        assert await parked(billing_process, late) == {}
        # Delivered once more (a redelivery after the replay): still counted once.
        await wait_consumed(js, await publish(js, credit))
        assert (await mirror.invoice(this_month())).facts.charged_points == 1_900
    finally:
        await mirror.close()


async def _gauge(reason: str) -> float:
    return metrics.billing_parked_events.values.get((("reason", reason),), 0)


async def test_a_poison_event_is_parked_with_its_error_and_blocks_nothing(
    accounts: Accounts,
    billing: Billing,
    js: JetStreamContext,
    billing_process: BillingProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumers, "MAX_ATTEMPTS", 2)  # two deliveries, not five: a fast test
    program_id = billing.program.program_id
    poison = common_pb2.EventEnvelope(
        event_id=uuid.uuid4().hex,
        program_id=program_id,
        service="accounts",
        event_type="points_credited",
        payload_type="tamaru.accounts.v1.PointsCredited",
        payload=b"\xff\xff\xff",  # no PointsCredited can be read from this
    )
    poison.occurred_at.GetCurrentTime()
    await publish(js, poison)
    member = await accounts.enrol()
    await accounts.credit(member, 40)  # right behind it on the same durable

    await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 40
    )
    await eventually(lambda: parked(billing_process, program_id), lambda p: p == {"poison": 1})
    assert billing_process.app is not None
    assert billing_process.app.ctx is not None
    async with billing_process.app.ctx.session_factory() as session:
        event_id, error = (
            await session.execute(
                text("SELECT event_id, error FROM billing_parked_events WHERE program_id = :p"),
                {"p": program_id},
            )
        ).one()
    assert event_id == poison.event_id
    assert error.startswith("DecodeError")


async def test_beyond_the_bound_events_are_redelivered_not_lost(
    accounts: Accounts,
    billing: Billing,
    js: JetStreamContext,
    billing_process: BillingProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(intake, "PARK_LIMIT_PER_PROGRAM", 2)
    monkeypatch.setattr(consumers, "PARKING_FULL_DELAY", 0.3)  # back soon, for a fast test
    member = await accounts.enrol()
    await accounts.credit(member, 25)
    await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 25
    )
    credit = next(
        e
        for e in await program_events(js, billing.program.program_id)
        if e.event_type == "points_credited"
    )
    late = f"t{secrets.token_hex(5)}"
    for _ in range(4):  # four credits (four event ids) for a program billing does not know
        await publish(js, moved(credit, late))
    await eventually(lambda: parked(billing_process, late), lambda p: p == {"unconfigured": 2})

    program = await create_program(js, ["accounts", "billing"], program_id=late)
    mirror = Billing(billing_process, program)
    try:
        await eventually(
            lambda: mirror.invoice(this_month()), lambda inv: inv.facts.charged_points == 100
        )
        assert await parked(billing_process, late) == {}
    finally:
        await mirror.close()
