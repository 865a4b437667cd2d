"""BatchRecordPurchases records a chunk in one earn transaction: caps consumed in stream order
across the chunk, one bad purchase refusing only itself, duplicates inside the stream, and
one idempotency record shared with RecordPurchase (either path replays the other)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext

from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.earn.conftest import Earn, member, new_program
from tests.earn.test_purchases import purchase, record, revised_program, stamp


def stream(*purchases: p.Purchase) -> list[earn_pb2.BatchRecordPurchasesRequest]:
    return [earn_pb2.BatchRecordPurchasesRequest(purchase=x) for x in purchases]


@pytest.fixture
async def capped(earn_js: JetStreamContext, channels: Any) -> Earn:
    program = await new_program(
        earn_js,
        earn={
            "rules": [
                {
                    "id": "drinks",
                    "name": "Drinks bonus",
                    "kind": "fixedBonus",
                    "bonusPoints": 30,
                    "categories": ["drink"],
                    "capPerMember": 50,
                    "budgetPoints": 100,
                }
            ]
        },
    )
    return Earn(channels, program)


def drink(account_id: str) -> p.Purchase:
    return purchase(
        account_id, 1000, lines=[p.PurchaseLine(sku="tea", category="drink", amount_yen=1000)]
    )


async def test_caps_and_budgets_are_consumed_in_stream_order_within_a_batch(capped: Earn) -> None:
    alice, bob, carol = [await capped.enrol() for _ in range(3)]
    # alice 30 + 20 (her cap of 50), bob 30, carol 20 (the budget of 100 is then spent), 0.
    order = [alice, alice, alice, bob, carol, carol]
    reply = await capped.stream("BatchRecordPurchases", stream(*(drink(m) for m in order)))
    assert reply.rejected == 0
    assert [r.points for r in reply.results] == [40, 30, 10, 40, 30, 10]
    balances = [await capped.balance(m) for m in (alice, bob, carol)]
    assert balances == [80, 40, 40]
    # The chunk wrote its counters back: bob has cap left, but the budget is spent.
    extra = (await record(capped, drink(bob))).result.breakdown
    assert [(i.ref, i.points) for i in extra] == [("base", 10), ("drinks", 0)]


async def test_a_budget_is_never_overrun_by_streams_and_single_purchases_at_once(
    capped: Earn,
) -> None:
    """Chunks (streams, and RecordPurchase calls grouped under load) and purchases recorded
    alone lock the same counters in the same order: together they give exactly the budget,
    no member more than the cap, and no call fails on a deadlock."""
    members = [await capped.enrol() for _ in range(8)]
    singles = [drink(m) for m in members for _ in range(2)]
    streams = [[drink(m) for m in members[i::2]] for i in range(2)]
    replies = await asyncio.gather(
        *(record(capped, x) for x in singles),
        *(capped.stream("BatchRecordPurchases", stream(*xs)) for xs in streams),
    )
    bonus: dict[str, int] = dict.fromkeys(members, 0)
    for x, reply in zip(singles, replies[: len(singles)], strict=True):
        bonus[x.member.account_id] += reply.result.total_points - 10
    for xs, reply in zip(streams, replies[len(singles) :], strict=True):
        assert reply.rejected == 0
        for x, result in zip(xs, reply.results, strict=True):
            bonus[x.member.account_id] += result.points - 10
    assert sum(bonus.values()) == 100
    assert max(bonus.values()) <= 50
    balances = [await capped.balance(m) for m in members]
    assert sum(balances) == 10 * (len(singles) + len(members)) + 100


async def test_a_chunk_scores_each_purchase_by_the_rules_in_force_at_its_time(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn, before_change = await revised_program(earn_js, channels)
    alice = await earn.enrol()
    old = purchase(alice, 1000, occurred_at=stamp(before_change))
    older = purchase(alice, 1000, occurred_at=stamp(before_change - timedelta(days=400)))
    chunk = [purchase(alice, 1000), old, older]
    reply = await earn.stream("BatchRecordPurchases", stream(*chunk))
    # Before the program existed, its first revision applies (as for RecordPurchase).
    assert [r.points for r in reply.results] == [30, 10, 10]
    # RecordPurchase replays what the chunk stored, with the generation that scored each.
    now, then, before = [(await record(earn, x)).result.rules_generation for x in chunk]
    assert now == then + 1
    assert then == before


async def test_a_bad_purchase_refuses_only_itself_and_can_be_sent_again(earn: Earn) -> None:
    alice, gone = await earn.enrol(), await earn.enrol()
    await earn.admin(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(idempotency_key=uuid.uuid4().hex, member=member(gone)),
    )
    fine = [purchase(alice, 1000) for _ in range(2)]
    closed = purchase(gone, 1000)
    ghost = p.Purchase(
        purchase_id=uuid.uuid4().hex,
        member=members_pb2.MemberSelector(external_ref="nobody"),
        channel="store",
        store="S1",
        amount_yen=1000,
    )
    fax = purchase(alice, 1000, channel="fax")
    reply = await earn.stream("BatchRecordPurchases", stream(fine[0], closed, ghost, fax, fine[1]))
    assert [r.error.reason or "ok" for r in reply.results] == [
        "ok",
        "MEMBER_NOT_ACTIVE",
        "MEMBER_NOT_FOUND",
        "INVALID_ARGUMENT",
        "ok",
    ]
    assert [r.error.field for r in reply.results][1:4] == [
        "purchase.member",
        "purchase.member",
        "purchase.channel",
    ]
    assert await earn.balance(alice) == 20
    # The refused purchase left no record: corrected, the same purchase_id goes through.
    fixed = p.Purchase()
    fixed.CopyFrom(fax)
    fixed.channel = "store"
    assert (await record(earn, fixed)).result.total_points == 10
    assert await earn.balance(alice) == 30


async def test_the_stream_and_record_purchase_share_one_record_per_purchase(earn: Earn) -> None:
    alice = await earn.enrol()
    sent_first = purchase(alice, 1000)
    single = await record(earn, sent_first)
    later = purchase(alice, 2000)
    reply = await earn.stream("BatchRecordPurchases", stream(sent_first, later, later))
    assert [r.points for r in reply.results] == [10, 20, 20]  # a replay, a new one, a repeat
    assert reply.recorded == 3
    assert await record(earn, later) == await record(earn, later)
    assert (await record(earn, sent_first)) == single
    assert await earn.balance(alice) == 30

    changed = p.Purchase()
    changed.CopyFrom(later)
    changed.amount_yen = 9999
    refused = await earn.stream("BatchRecordPurchases", stream(changed))
    assert refused.results[0].error.reason == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await record(earn, changed)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await earn.balance(alice) == 30


async def test_a_stream_longer_than_a_chunk_records_every_purchase(earn: Earn) -> None:
    members = [await earn.enrol() for _ in range(5)]
    purchases = [purchase(members[i % 5], 100 * (1 + i % 3)) for i in range(250)]
    reply = await earn.stream("BatchRecordPurchases", stream(*purchases))
    assert (reply.recorded, reply.rejected) == (250, 0)
    assert [r.index for r in reply.results] == list(range(250))
    expected = [sum(1 + i % 3 for i in range(250) if i % 5 == m) for m in range(5)]
    assert [await earn.balance(m) for m in members] == expected
