"""Behaviours with frequency caps, and real-time offers issued by purchases and used once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.js import JetStreamContext

from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2, events_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.earn.conftest import Earn, detail_of, member, new_program

SPEC: dict[str, Any] = {
    "earn": {
        "behaviourRules": [
            {
                "id": "visit",
                "behaviour": "storeVisit",
                "points": 10,
                "frequency": {"count": 1, "per": "day"},
            },
            {
                "id": "review",
                "behaviour": "review",
                "points": 5,
                "frequency": {"count": 2, "per": "week"},
            },
        ],
        "offers": [
            {
                "id": "visit-boost",
                "name": "Double visit points",
                "message": "Visit within 7 days for double points",
                "trigger": {"minPurchaseYen": 5000},
                "reward": {"multiplierPercent": 200, "validDays": 7, "behaviour": "storeVisit"},
            }
        ],
    }
}


def at(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


async def behave(earn: Earn, account: str, behaviour: str, when: datetime, **fields: Any) -> Any:
    msg = p.Behaviour(
        event_id=fields.pop("event_id", uuid.uuid4().hex),
        member=member(account),
        behaviour=behaviour,
        occurred_at=at(when),
        **fields,
    )
    return await earn.call("RecordBehaviour", earn_pb2.RecordBehaviourRequest(behaviour=msg))


async def test_frequency_caps_count_per_day_and_week_in_tokyo(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = Earn(channels, await new_program(earn_js, **SPEC))
    alice = await earn.enrol()
    # 2026-12-01 23:30 and 23:59 JST are one day; 00:00 the next day is another.
    day1 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    points = [
        (await behave(earn, alice, "storeVisit", when)).result.total_points
        for when in (day1, day1 + timedelta(minutes=29), day1 + timedelta(minutes=30))
    ]
    assert points == [10, 0, 10]
    # Reviews: twice a week (Mon-Sun); Dec 7 2026 00:00 JST is a Monday.
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    reviews = [
        (await behave(earn, alice, "review", when)).result.total_points
        for when in (sunday, sunday, sunday, sunday + timedelta(hours=3))
    ]
    assert reviews == [5, 5, 0, 5]
    assert await earn.balance(alice) == 35


async def test_a_behaviour_is_recorded_once_per_event_id(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = Earn(channels, await new_program(earn_js, **SPEC))
    alice = await earn.enrol()
    now = datetime.now(UTC)
    first = await behave(earn, alice, "storeVisit", now, event_id="e1", store="S1")
    again = await behave(earn, alice, "storeVisit", now, event_id="e1", store="S1")
    assert first == again
    assert await earn.balance(alice) == 10
    entries = [
        earn_pb2.BatchRecordBehavioursRequest(
            behaviour=p.Behaviour(
                event_id=uuid.uuid4().hex, member=member(alice), behaviour=b, occurred_at=at(now)
            )
        )
        for b in ("review", "dance")
    ]
    batch = await earn.stream("BatchRecordBehaviours", entries)
    assert (batch.recorded, batch.rejected) == (1, 1)
    assert batch.results[1].error.field == "behaviour.behaviour"


async def test_a_batch_keeps_each_members_stream_order_under_caps(
    earn_js: JetStreamContext, channels: Any
) -> None:
    """Entries are recorded concurrently, but one member's in stream order: of a member's
    three visits on one day, the first earns, whatever the other members' entries do."""
    earn = Earn(channels, await new_program(earn_js, **SPEC))
    members = [await earn.enrol() for _ in range(4)]
    day = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    entries = [
        earn_pb2.BatchRecordBehavioursRequest(
            behaviour=p.Behaviour(
                event_id=f"{m}-{visit}",
                member=member(m),
                behaviour="storeVisit",
                occurred_at=at(day + timedelta(minutes=visit)),
            )
        )
        for visit in range(3)
        for m in members
    ]
    batch = await earn.stream("BatchRecordBehaviours", entries)
    assert (batch.recorded, batch.rejected) == (12, 0)
    assert [r.index for r in batch.results] == list(range(12))
    earned = {r.event_id: r.points for r in batch.results}
    assert all(earned[f"{m}-0"] == 10 for m in members)
    assert all(earned[f"{m}-{v}"] == 0 for m in members for v in (1, 2))
    assert [await earn.balance(m) for m in members] == [10] * 4


async def test_a_big_purchase_issues_an_offer_that_boosts_one_visit(
    earn_js: JetStreamContext, earn_nc: Client, channels: Any
) -> None:
    program = await new_program(earn_js, **SPEC)
    earn = Earn(channels, program)
    alice = await earn.enrol()
    announced: asyncio.Queue[events_pb2.OfferIssued] = asyncio.Queue()

    async def on_event(msg: Any) -> None:
        envelope = common_pb2.EventEnvelope.FromString(msg.data)
        await announced.put(events_pb2.OfferIssued.FromString(envelope.payload))

    sub = await earn_nc.subscribe(f"tamaru.evt.{program.program_id}.earn.offer_issued", cb=on_event)
    try:
        small = p.Purchase(
            purchase_id=uuid.uuid4().hex,
            member=member(alice),
            channel="store",
            store="S1",
            amount_yen=4999,
        )
        reply = await earn.call("RecordPurchase", earn_pb2.RecordPurchaseRequest(purchase=small))
        assert list(reply.offers_issued) == []
        big = p.Purchase()
        big.CopyFrom(small)
        big.purchase_id, big.amount_yen = uuid.uuid4().hex, 6000
        reply = await earn.call("RecordPurchase", earn_pb2.RecordPurchaseRequest(purchase=big))
        (issued,) = reply.offers_issued
        event = await asyncio.wait_for(announced.get(), timeout=1.0)
        assert event.offer.offer_issue_id == issued.offer_issue_id
        assert event.offer.account_id == alice
    finally:
        await sub.unsubscribe()
    offers = await earn.call("ListOffers", earn_pb2.ListOffersRequest(member=member(alice)))
    assert [o.offer_id for o in offers.offers] == ["visit-boost"]
    now = datetime.now(UTC)
    boosted = await behave(earn, alice, "storeVisit", now, offer_issue_id=issued.offer_issue_id)
    assert boosted.result.total_points == 20
    assert [b.source for b in boosted.result.breakdown] == ["behaviour", "offer"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await behave(
            earn, alice, "storeVisit", now + timedelta(days=1), offer_issue_id=issued.offer_issue_id
        )
    assert detail_of(err.value).reason == "OFFER_USED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call(
            "RecordPurchase",
            earn_pb2.RecordPurchaseRequest(
                purchase=p.Purchase(
                    purchase_id=uuid.uuid4().hex,
                    member=member(alice),
                    channel="store",
                    amount_yen=100,
                    offer_issue_id="nope",
                )
            ),
        )
    assert detail_of(err.value).reason == "OFFER_NOT_FOUND"
