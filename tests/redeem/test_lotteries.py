"""Lotteries: entries limited per member, a verifiable draw, prize orders for the winners."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.auth import Role
from tamaru.accounts.v1 import members_pb2
from tamaru.catalog.v1 import items_pb2
from tamaru.redeem.v1 import lotteries_pb2, orders_pb2, redeem_pb2
from tests.redeem.shop import ADDRESS, Shop, key, rpc_error


def stamp(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def recompute(
    seed_hex: str, entry_ids: list[str], prizes: list[tuple[str, int]]
) -> list[tuple[str, str]]:
    """The draw as docs/redeem.md describes it, written out independently of the service."""
    seed = bytes.fromhex(seed_hex)
    ranked = sorted(
        sorted(entry_ids), key=lambda e: (hashlib.sha256(seed + e.encode()).hexdigest(), e)
    )
    skus = [sku for sku, count in prizes for _ in range(count)]
    return list(zip(ranked, skus, strict=False))


async def create(shop: Shop, closes_in: float, **fields: object) -> lotteries_pb2.Lottery:
    now = datetime.now(UTC)
    closes = now + timedelta(seconds=closes_in)
    values: dict[str, object] = {
        "idempotency_key": key(),
        "title": "Summer draw",
        "prizes": [lotteries_pb2.LotteryPrize(sku="prize-tv", count=2)],
        "entry_cost_points": 50,
        "max_entries_per_member": 2,
        "entries_open_time": stamp(now - timedelta(minutes=1)),
        "entries_close_time": stamp(closes),
        "draw_time": stamp(closes),
    }
    values.update(fields)
    reply = await shop.redeem.CreateLottery(
        redeem_pb2.CreateLotteryRequest(**values),  # type: ignore[arg-type]
        metadata=shop.md(),
    )
    lottery: lotteries_pb2.Lottery = reply.lottery
    return lottery


async def enter(shop: Shop, lottery_id: str, member: str) -> redeem_pb2.EnterLotteryResponse:
    reply: redeem_pb2.EnterLotteryResponse = await shop.redeem.EnterLottery(
        redeem_pb2.EnterLotteryRequest(
            idempotency_key=key(),
            lottery_id=lottery_id,
            member=members_pb2.MemberSelector(account_id=member),
            shipping_address=ADDRESS,
        ),
        metadata=shop.md(Role.BACKEND),
    )
    return reply


async def test_a_lottery_is_entered_drawn_verifiably_and_prizes_are_ordered(shop: Shop) -> None:
    await shop.item("prize-tv", price=50_000, stock=5, item_type=items_pb2.ITEM_TYPE_LOTTERY_PRIZE)
    lottery = await create(shop, closes_in=2.0)
    assert lottery.seed == ""
    assert len(lottery.seed_commitment) == 64
    members = await asyncio.gather(*(shop.member(points=200) for _ in range(4)))
    for member in members:
        await enter(shop, lottery.lottery_id, member)
    last = await enter(shop, lottery.lottery_id, members[0])
    assert last.available == 100
    code, detail = await rpc_error(enter(shop, lottery.lottery_id, members[0]))
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_LIMIT_REACHED")
    assert (await shop.balance(members[0])).available == 100

    draw = redeem_pb2.DrawLotteryRequest(idempotency_key=key(), lottery_id=lottery.lottery_id)
    code, detail = await rpc_error(shop.redeem.DrawLottery(draw, metadata=shop.md()))
    assert detail.reason == "DRAW_TOO_EARLY"
    await asyncio.sleep(
        max(
            0.0,
            lottery.draw_time.ToDatetime(tzinfo=UTC).timestamp() - datetime.now(UTC).timestamp(),
        )
        + 0.05
    )
    code, detail = await rpc_error(enter(shop, lottery.lottery_id, members[1]))
    assert detail.reason == "LOTTERY_NOT_OPEN"
    drawn = await shop.redeem.DrawLottery(draw, metadata=shop.md())
    assert drawn.lottery.status == lotteries_pb2.LOTTERY_STATUS_DRAWN
    seed = drawn.lottery.seed
    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == lottery.seed_commitment

    results = await shop.redeem.ListLotteryResults(
        redeem_pb2.ListLotteryResultsRequest(lottery_id=lottery.lottery_id),
        metadata=shop.md(Role.READONLY),
    )
    assert len(results.entry_ids) == 5
    expected = recompute(seed, list(results.entry_ids), [("prize-tv", 2)])
    assert [(w.entry_id, w.prize_sku) for w in results.winners] == expected
    assert [(w.entry_id, w.prize_sku) for w in drawn.winners] == expected
    replayed = await shop.redeem.DrawLottery(draw, metadata=shop.md())
    assert replayed.winners == drawn.winners

    for winner in results.winners:
        order = await shop.get(winner.prize_order_id)
        assert (order.kind, order.status) == (
            orders_pb2.ORDER_KIND_PRIZE,
            orders_pb2.ORDER_STATUS_CONFIRMED,
        )
        assert (order.member_id, order.total_points, order.lottery_id) == (
            winner.member_id,
            0,
            lottery.lottery_id,
        )
    stock = await shop.stock("prize-tv")
    assert (stock.on_hand, stock.reserved) == (3, 0)
    code, detail = await rpc_error(
        shop.redeem.DrawLottery(
            redeem_pb2.DrawLotteryRequest(idempotency_key=key(), lottery_id=lottery.lottery_id),
            metadata=shop.md(),
        )
    )
    assert detail.reason == "LOTTERY_ALREADY_DRAWN"


async def test_lottery_input_is_checked_and_only_admins_create(shop: Shop) -> None:
    code, detail = await rpc_error(create(shop, closes_in=60, max_entries_per_member=0))
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, "max_entries_per_member")
    code, detail = await rpc_error(create(shop, closes_in=60, prizes=[]))
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, "prizes")
    now = datetime.now(UTC)
    code, detail = await rpc_error(create(shop, closes_in=60, draw_time=stamp(now)))
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, "draw_time")
    with_backend_key = shop.redeem.CreateLottery(
        redeem_pb2.CreateLotteryRequest(idempotency_key=key(), title="x"),
        metadata=shop.md(Role.BACKEND),
    )
    code, _ = await rpc_error(with_backend_key)
    assert code == grpc.StatusCode.PERMISSION_DENIED
