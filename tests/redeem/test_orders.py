"""PlaceOrder end to end: the saga's happy path, idempotent retries, refusals, concurrency."""

from __future__ import annotations

import asyncio

import grpc

from runtime.auth import Role
from tamaru.catalog.v1 import catalog_pb2, items_pb2
from tamaru.redeem.v1 import orders_pb2
from tests.redeem.shop import ISLAND_ADDRESS, Shop, key, lines, rpc_error


async def test_an_order_takes_points_and_stock_and_is_confirmed(shop: Shop) -> None:
    member = await shop.member(points=5000)
    await shop.item("mug", price=1200, stock=5, shipping_fee_points=100)
    order = await shop.place(member, lines(("mug", 2)))
    assert order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert (order.items_points, order.shipping_fee_points) == (2400, 200)
    assert (order.total_points, order.points_paid, order.yen_paid) == (2600, 2600, 0)
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (2400, 0)
    stock = await shop.stock("mug")
    assert (stock.on_hand, stock.reserved) == (3, 0)
    assert [o.order_id for o in await shop.orders_of(member)] == [order.order_id]


async def test_a_retried_order_with_the_same_key_is_one_order(shop: Shop) -> None:
    member = await shop.member(points=3000)
    await shop.item("tea", price=1000)
    same = key()
    first = await shop.place(member, lines(("tea", 1)), idempotency_key=same)
    again = await shop.place(member, lines(("tea", 1)), idempotency_key=same)
    assert again.order_id == first.order_id
    assert (await shop.balance(member)).available == 2000
    assert len(await shop.orders_of(member)) == 1
    code, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("tea", 2)), idempotency_key=same),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert (code, detail.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")


async def test_a_failed_order_answers_the_same_error_on_retry(shop: Shop) -> None:
    member = await shop.member(points=100)
    await shop.item("lamp", price=1000)
    shop_without_self_pay = shop  # self-pay is on, but no token: refused for want of points
    request = shop_without_self_pay.order_request(member, lines(("lamp", 1)))
    for _ in range(2):
        code, detail = await rpc_error(
            shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
        )
        assert (code, detail.reason, detail.field) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "INSUFFICIENT_POINTS",
            "payment_token",
        )
    (failed,) = await shop.orders_of(member)
    assert failed.status == orders_pb2.ORDER_STATUS_FAILED
    assert (await shop.balance(member)).available == 100
    assert (await shop.stock("lamp")).reserved == 0


async def test_shipping_to_an_undeliverable_region_is_refused_before_anything_is_held(
    shop: Shop,
) -> None:
    member = await shop.member(points=5000)
    await shop.item("sofa", price=1000, stock=2)
    code, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("sofa", 1)), address=ISLAND_ADDRESS),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_DELIVERABLE")
    assert detail.field == "shipping_address.prefecture"
    assert await shop.orders_of(member) == []
    assert (await shop.balance(member)).held == 0
    assert (await shop.stock("sofa")).reserved == 0


async def test_twenty_orders_race_for_the_last_three_units(shop: Shop) -> None:
    await shop.item("rare", price=500, stock=3)
    members = await asyncio.gather(*(shop.member(points=1000) for _ in range(20)))

    async def attempt(member: str) -> str:
        try:
            await shop.place(member, lines(("rare", 1)))
        except grpc.aio.AioRpcError as error:
            return f"{error.code().name}"
        return "ok"

    outcomes = await asyncio.gather(*(attempt(m) for m in members))
    assert sorted(outcomes) == ["FAILED_PRECONDITION"] * 17 + ["ok"] * 3
    stock = await shop.stock("rare")
    assert (stock.on_hand, stock.reserved) == (0, 0)
    balances = await asyncio.gather(*(shop.balance(m) for m in members))
    assert sorted(b.available for b in balances) == [500] * 3 + [1000] * 17
    assert all(b.held == 0 for b in balances)


async def test_an_e_gift_order_needs_no_address_and_gets_its_codes(shop: Shop) -> None:
    member = await shop.member(points=1000)
    await shop.item("gift", price=300, stock=0, item_type=items_pb2.ITEM_TYPE_EGIFT)
    await shop.stubs.catalog.UploadCodes(
        catalog_pb2.UploadCodesRequest(sku="gift", codes=["AAA-1", "BBB-2"], idempotency_key=key()),
        metadata=shop.md(),
    )
    order = await shop.place(member, lines(("gift", 2)), address=None)
    assert order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert sorted(c.code for c in order.codes) == ["AAA-1", "BBB-2"]
    assert (await shop.balance(member)).available == 400
