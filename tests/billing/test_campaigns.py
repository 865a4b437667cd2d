"""CompareCampaigns from earn's real purchase events: purchases inside and outside a campaign
recorded through the real earn API, exact participant / non-participant figures net of
returns, tenant isolation, and duplicated or reordered events that change nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

import services.earn.app
from runtime.messaging.streams import EVENTS_STREAM
from runtime.service import ServiceApp
from services.billing.adapters.stream_replay import replay
from services.billing.entrypoints.consumers import EARN_DURABLE
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, members_pb2
from tamaru.billing.v1 import billing_pb2
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2, earn_pb2_grpc, events_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.billing.conftest import Billing, BillingProcess
from tests.support.polling import eventually
from tests.support.services import TestProgram, create_program, running_service

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=3), NOW - timedelta(days=1)
INSIDE, BEFORE, AFTER = NOW - timedelta(days=2), NOW - timedelta(days=4), NOW - timedelta(hours=1)


def spec() -> dict[str, Any]:
    return {
        "earn": {
            "rules": [
                {
                    "id": "app-week",
                    "name": "App week",
                    "kind": "fixedBonus",
                    "bonusPoints": 100,
                    "channels": ["app"],
                    "validFrom": START.isoformat(),
                    "validTo": END.isoformat(),
                },
                # A standing rule (no window) is not a campaign.
                {"id": "s9", "name": "Store 9", "kind": "fixedBonus", "bonusPoints": 5},
            ]
        }
    }


def stamp(at: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(at)
    return out


class Shop:
    """Enrols members (accounts) and records purchases and returns (earn) for one program."""

    def __init__(self, accounts: grpc.aio.Channel, earn: grpc.aio.Channel, program: TestProgram):
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(accounts)
        self.earn = earn_pb2_grpc.EarnServiceStub(earn)
        self.program = program

    async def member(self) -> str:
        reply = await self.accounts.EnrolMember(
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=uuid.uuid4().hex, external_ref=uuid.uuid4().hex[:12]
            ),
            metadata=self.program.metadata(),
        )
        return str(reply.member.account_id)

    async def buy(self, account_id: str, yen: int, at: datetime, channel: str = "store") -> Any:
        reply = await self.earn.RecordPurchase(
            earn_pb2.RecordPurchaseRequest(
                purchase=p.Purchase(
                    purchase_id=uuid.uuid4().hex,
                    member=members_pb2.MemberSelector(account_id=account_id),
                    channel=channel,
                    store="S1",
                    amount_yen=yen,
                    occurred_at=stamp(at),
                )
            ),
            metadata=self.program.metadata(),
        )
        return reply

    async def give_back(self, purchase_id: str, yen: int = 0) -> None:
        await self.earn.RecordReturn(
            earn_pb2.RecordReturnRequest(
                return_id=uuid.uuid4().hex,
                purchase_id=purchase_id,
                amount_yen=yen,
                full=yen == 0,
            ),
            metadata=self.program.metadata(),
        )


@dataclass
class World:
    billing_process: BillingProcess
    js: JetStreamContext
    a: TestProgram
    b: TestProgram
    shop_a: Shop
    shop_b: Shop


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
) -> AsyncIterator[World]:
    async with (
        running_service(services.earn.app.definition, database_url, nats_url) as earn,
        grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{earn.port}") as e,
    ):
        apply_on = ["accounts", "earn", "billing"]
        program_a = await create_program(js, apply_on, **spec())
        program_b = await create_program(js, apply_on, **spec())
        world = World(
            billing_process, js, program_a, program_b, Shop(a, e, program_a), Shop(a, e, program_b)
        )
        await record_scenario(world)
        yield world


async def record_scenario(world: World) -> None:
    shop = world.shop_a
    alice, bob, carol, dave, erin = [await shop.member() for _ in range(5)]
    # alice: in the campaign (app) and a plain purchase in the window; one after it ended.
    assert (await shop.buy(alice, 2000, INSIDE, "app")).result.total_points == 125
    await shop.buy(alice, 1000, INSIDE)
    assert (await shop.buy(alice, 5000, AFTER, "app")).result.total_points == 55
    # bob: in the campaign, then returns a third of it: 2,000 yen and 67 campaign points kept.
    bought = await shop.buy(bob, 3000, INSIDE, "app")
    await shop.give_back(bought.purchase_id, 1000)
    # carol: bought in the window, not in the campaign.
    await shop.buy(carol, 1500, INSIDE)
    await shop.buy(carol, 500, INSIDE)
    # dave: returned everything he bought in the window; erin bought only before it.
    returned = await shop.buy(dave, 800, INSIDE)
    await shop.give_back(returned.purchase_id)
    await shop.buy(erin, 999, BEFORE)
    # Program B: the same campaign id, one participant who must never show in A.
    other = await world.shop_b.member()
    await world.shop_b.buy(other, 10_000, INSIDE, "app")


def figures(result: billing_pb2.CampaignResult) -> tuple[Any, ...]:
    part, non = result.participants, result.non_participants
    return (
        result.points_issued,
        (part.members, part.purchases, part.purchase_yen, part.purchase_yen_per_member),
        (non.members, non.purchases, non.purchase_yen, non.purchase_yen_per_member),
    )


EXPECTED_A = (
    100 + 67,
    (2, 3, 2000 + 1000 + 2000, 2500),
    (1, 2, 2000, 2000),
)
EXPECTED_B = (100, (1, 1, 10_000, 10_000), (0, 0, 0, 0))


async def comparison(billing: Billing, *ids: str) -> list[billing_pb2.CampaignResult]:
    reply = await billing.call(
        "CompareCampaigns", billing_pb2.CompareCampaignsRequest(campaign_ids=list(ids))
    )
    return list(reply.campaigns)


async def settled(billing: Billing, expected: tuple[Any, ...]) -> billing_pb2.CampaignResult:
    results = await eventually(
        lambda: comparison(billing),
        lambda r: len(r) == 1 and figures(r[0]) == expected,
    )
    return results[0]


async def test_campaign_comparison_counts_participants_and_buyers_in_the_window(
    world: World,
) -> None:
    billing, billing_b = (
        Billing(world.billing_process, world.a),
        Billing(world.billing_process, world.b),
    )
    try:
        result = await settled(billing, EXPECTED_A)
        assert (result.campaign_id, result.name, result.running) == ("app-week", "App week", False)
        assert result.window_start.ToDatetime(tzinfo=UTC) == START
        assert result.window_end.ToDatetime(tzinfo=UTC) == END
        assert result.participants.purchases_per_member == pytest.approx(1.5)
        assert result.non_participants.purchases_per_member == pytest.approx(2.0)
        # Program B sees only its own member, and A's figures never include B's purchase.
        assert figures(await settled(billing_b, EXPECTED_B)) == EXPECTED_B
        assert [figures(r) for r in await comparison(billing, "app-week")] == [EXPECTED_A]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await comparison(billing, "app-week", "s9")  # a standing rule, not a campaign
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert b"campaign_ids[1]" in dict(caught.value.trailing_metadata() or ()).get(
            "tamaru-error-bin", b""
        )
    finally:
        await billing.close()
        await billing_b.close()


def earn_payload(envelope: common_pb2.EventEnvelope) -> Any:
    return getattr(events_pb2, envelope.payload_type.rsplit(".", 1)[-1]).FromString(
        envelope.payload
    )


def copy_of(
    envelope: common_pb2.EventEnvelope, program_id: str, *, new_id: bool
) -> common_pb2.EventEnvelope:
    payload = earn_payload(envelope)
    payload.program_id = program_id
    out = common_pb2.EventEnvelope()
    out.CopyFrom(envelope)
    out.program_id = program_id
    out.payload = payload.SerializeToString()
    if new_id:
        out.event_id = uuid.uuid4().hex
    return out


async def publish(js: JetStreamContext, envelope: common_pb2.EventEnvelope) -> int:
    subject = f"tamaru.evt.{envelope.program_id}.earn.{envelope.event_type}"
    # A fresh Nats-Msg-Id, so JetStream stores the copy and billing really receives it again.
    ack = await js.publish(
        subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": uuid.uuid4().hex}
    )
    return int(ack.seq)


async def consumed(js: JetStreamContext, seq: int) -> None:
    async def floor() -> int:
        info = await js.consumer_info(EVENTS_STREAM, EARN_DURABLE)
        return info.ack_floor.stream_seq if info.ack_floor else 0

    await eventually(floor, lambda f: f >= seq)


async def test_duplicated_and_reordered_events_change_nothing(world: World) -> None:
    billing = Billing(world.billing_process, world.a)
    mirror_program = await create_program(world.js, ["accounts", "billing"], **spec())
    mirror = Billing(world.billing_process, mirror_program)
    try:
        await settled(billing, EXPECTED_A)
        events = [
            e
            async for e in replay(world.js, f"tamaru.evt.{world.a.program_id}.earn.>")
            if e.event_type in ("purchase_recorded", "purchase_returned")
        ]
        assert len(events) == 10  # 8 purchases, 2 returns
        last = 0
        for envelope in reversed(events):
            # The same event again (the inbox drops it) and the same purchase or return under
            # a new event id (its purchase / return id makes it change nothing).
            last = await publish(world.js, envelope)
            last = await publish(world.js, copy_of(envelope, world.a.program_id, new_id=True))
            # Another program hears everything in reverse: returns before their purchases.
            last = await publish(
                world.js, copy_of(envelope, mirror_program.program_id, new_id=True)
            )
        await consumed(world.js, last)
        assert [figures(r) for r in await comparison(billing)] == [EXPECTED_A]
        assert [figures(r) for r in await comparison(mirror)] == [EXPECTED_A]
    finally:
        await billing.close()
        await mirror.close()
