"""Earn announces purchases, returns and behaviours on JetStream (outbox): one event per
recorded purchase / return / behaviour, never one for a replay of the same client id."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import func, select

from runtime.db.plumbing import OutboxEvent
from runtime.messaging.streams import EVENTS_STREAM
from runtime.service import ServiceApp
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2, events_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.earn.conftest import Earn, member, new_program
from tests.earn.test_purchases import purchase, record, stamp

SPEC: dict[str, Any] = {
    "earn": {
        "rules": [
            {
                "id": "drinks",
                "name": "Drinks campaign",
                "kind": "fixedBonus",
                "bonusPoints": 30,
                "categories": ["drink"],
                "pointKind": "campaign",
                "validFrom": "2026-01-01T00:00:00Z",
            }
        ],
        "behaviourRules": [{"id": "visit", "behaviour": "storeVisit", "points": 10}],
    },
    "pointKinds": [
        {"id": "campaign", "name": "Campaign", "expiry": {"mode": "daysAfterEarn", "days": 30}}
    ],
}


async def earn_events(js: JetStreamContext, program_id: str) -> list[common_pb2.EventEnvelope]:
    """Every earn event of the program the stream holds (an ephemeral consumer, no acks)."""
    sub = await js.pull_subscribe(
        f"tamaru.evt.{program_id}.earn.>",
        durable=None,
        stream=EVENTS_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=5.0
        ),
    )
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        out: list[common_pb2.EventEnvelope] = []
        while len(out) < pending:
            msgs = await sub.fetch(pending - len(out), timeout=5.0)
            out += [common_pb2.EventEnvelope.FromString(m.data) for m in msgs]
        return out
    finally:
        await sub.unsubscribe()


async def all_published(app: ServiceApp, program_id: str) -> None:
    """Until earn's outbox relay has sent every event of the program to JetStream."""
    assert app.ctx is not None
    deadline = time.monotonic() + 15
    while True:
        async with app.ctx.session_factory() as session:
            unsent = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.program_id == program_id, OutboxEvent.sent_at.is_(None))
            )
        if unsent == 0:
            return
        assert time.monotonic() < deadline, f"{unsent} events still unsent"
        await asyncio.sleep(0.05)


def of_type(events: list[common_pb2.EventEnvelope], kind: str) -> list[Any]:
    message: Any = {
        "purchase_recorded": events_pb2.PurchaseRecorded,
        "purchase_returned": events_pb2.PurchaseReturned,
        "behaviour_recorded": events_pb2.BehaviourRecorded,
    }[kind]
    return [message.FromString(e.payload) for e in events if e.event_type == kind]


async def test_purchases_returns_and_behaviours_are_announced_once_each(
    earn_js: JetStreamContext, channels: Any, earn_apps: tuple[ServiceApp, ServiceApp]
) -> None:
    program = await new_program(earn_js, **SPEC)
    earn = Earn(channels, program)
    alice = await earn.enrol()
    at = datetime.now(UTC) - timedelta(hours=2)
    lines = [
        p.PurchaseLine(sku="A", category="food", amount_yen=1000),
        p.PurchaseLine(sku="B", category="drink", amount_yen=500),
    ]
    single = purchase(alice, 1500, lines=lines, occurred_at=stamp(at))
    first = await record(earn, single)
    assert await record(earn, single) == first  # a replay: same answer, no second event
    batch = [
        purchase(alice, 700, store="S2", occurred_at=stamp(at + timedelta(minutes=1))),
        purchase(alice, 900, occurred_at=stamp(at + timedelta(minutes=2))),
    ]
    reply = await earn.stream(
        "BatchRecordPurchases",
        [earn_pb2.BatchRecordPurchasesRequest(purchase=x) for x in [*batch, batch[0]]],
    )
    assert (reply.recorded, reply.rejected) == (3, 0)  # the repeated entry replays
    ret = earn_pb2.RecordReturnRequest(
        return_id=uuid.uuid4().hex, purchase_id=single.purchase_id, lines=[p.ReturnLine(line=1)]
    )
    returned = await earn.call("RecordReturn", ret)
    await earn.call("RecordReturn", ret)
    visit = p.Behaviour(event_id=uuid.uuid4().hex, member=member(alice), behaviour="storeVisit")
    for _ in range(2):
        await earn.call("RecordBehaviour", earn_pb2.RecordBehaviourRequest(behaviour=visit))

    await all_published(earn_apps[1], program.program_id)
    events = await earn_events(earn_js, program.program_id)
    purchases = of_type(events, "purchase_recorded")
    assert sorted(x.purchase_id for x in purchases) == sorted(
        [single.purchase_id, batch[0].purchase_id, batch[1].purchase_id]
    )
    recorded = next(x for x in purchases if x.purchase_id == single.purchase_id)
    assert (recorded.program_id, recorded.account_id) == (program.program_id, alice)
    assert (recorded.channel, recorded.store, recorded.amount_yen) == ("store", "S1", 1500)
    assert recorded.occurred_at.ToDatetime(tzinfo=UTC) == at
    assert recorded.points_earned == first.result.total_points == 45
    assert [(b.source, b.ref, b.points, b.kind) for b in recorded.breakdown] == [
        ("base", "base", 15, "normal"),
        ("rule", "drinks", 30, "campaign"),
    ]
    assert {k.kind: k.points for k in recorded.by_kind} == {"normal": 15, "campaign": 30}
    envelope = next(e for e in events if e.event_type == "purchase_recorded")
    assert envelope.service == "earn"
    # A batch announces its purchases with one INSERT, each at its own time.
    for env in (e for e in events if e.event_type == "purchase_recorded"):
        assert env.occurred_at == events_pb2.PurchaseRecorded.FromString(env.payload).occurred_at
    assert sorted(x.occurred_at.ToDatetime(tzinfo=UTC) for x in purchases) == [
        at,
        at + timedelta(minutes=1),
        at + timedelta(minutes=2),
    ]

    (ret_event,) = of_type(events, "purchase_returned")
    assert (ret_event.return_id, ret_event.purchase_id) == (ret.return_id, single.purchase_id)
    assert (ret_event.returned_yen, ret_event.points_reversed) == (500, returned.points_reversed)
    assert ret_event.purchase_amount_yen == 1500
    # A third of the yen returned: a third of each component (15 -> 5, 30 -> 10).
    shares = [(b.ref, b.points) for b in ret_event.reversed_breakdown]
    assert shares == [("base", 5), ("drinks", 10)]

    (behaviour,) = of_type(events, "behaviour_recorded")
    assert (behaviour.event_id, behaviour.rule_id, behaviour.points) == (
        visit.event_id,
        "visit",
        10,
    )
    assert behaviour.account_id == alice
