"""Cancellation before shipment, fulfilment updates, and order history."""

from __future__ import annotations

import grpc
from nats.js import JetStreamContext

from runtime.auth import Role
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.catalog.v1 import catalog_pb2, items_pb2
from tamaru.redeem.v1 import orders_pb2, redeem_pb2
from tests.redeem.shop import Shop, Stubs, key, lines, rpc_error


async def cancel(shop: Shop, order_id: str, role: Role = Role.BACKEND) -> orders_pb2.Order:
    reply = await shop.redeem.CancelOrder(
        redeem_pb2.CancelOrderRequest(idempotency_key=key(), order_id=order_id, reason="changed"),
        metadata=shop.md(role),
    )
    order: orders_pb2.Order = reply.order
    return order


async def fulfil(shop: Shop, order_id: str, status: int, **fields: str) -> orders_pb2.Order:
    reply = await shop.redeem.UpdateFulfilment(
        redeem_pb2.UpdateFulfilmentRequest(
            idempotency_key=key(),
            order_id=order_id,
            status=status,  # type: ignore[arg-type]
            **fields,
        ),
        metadata=shop.md(Role.BACKEND),
    )
    order: orders_pb2.Order = reply.order
    return order


async def history_types(shop: Shop, member: str) -> list[int]:
    reply = await shop.stubs.accounts.ListHistory(
        accounts_pb2.ListHistoryRequest(member=members_pb2.MemberSelector(account_id=member)),
        metadata=shop.md(),
    )
    return [t.type for t in reply.transactions]


async def test_cancelling_restores_the_original_lots_and_refunds_the_card(shop: Shop) -> None:
    member = await shop.member(points=800)
    await shop.item("desk", price=1000, stock=5)
    before = await shop.balance(member)
    order = await shop.place(member, lines(("desk", 1)), token="tok_approve")
    assert (await shop.stock("desk")).on_hand == 4
    cancelled = await cancel(shop, order.order_id)
    assert (await shop.stock("desk")).on_hand == 5  # the desk is back on the shelf
    assert cancelled.status == orders_pb2.ORDER_STATUS_CANCELLED
    assert cancelled.cancel_reason == "changed"
    after = await shop.balance(member)
    assert (after.available, after.held) == (800, 0)
    assert after.next_expiry_at == before.next_expiry_at  # the very lots, expiry and all
    assert shop.payments()[order.order_id] == (200, "refunded")
    assert (await history_types(shop, member))[0] == ledger_pb2.TRANSACTION_TYPE_REVERSAL
    again = await cancel(shop, order.order_id)
    assert again.status == orders_pb2.ORDER_STATUS_CANCELLED
    assert (await shop.balance(member)).available == 800
    assert (await shop.stock("desk")).on_hand == 5  # returned once


async def test_an_order_whose_e_gift_codes_were_issued_cannot_be_cancelled(shop: Shop) -> None:
    member = await shop.member(points=1000)
    await shop.item("card", price=300, stock=0, item_type=items_pb2.ITEM_TYPE_EGIFT)
    await shop.stubs.catalog.UploadCodes(
        catalog_pb2.UploadCodesRequest(sku="card", codes=["GIFT-1"], idempotency_key=key()),
        metadata=shop.md(),
    )
    order = await shop.place(member, lines(("card", 1)), address=None)
    code, detail = await rpc_error(cancel(shop, order.order_id))
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_NOT_CANCELLABLE")
    assert "e-gift codes were issued" in detail.message
    assert (await shop.balance(member)).available == 700
    assert (await shop.get(order.order_id)).status == orders_pb2.ORDER_STATUS_CONFIRMED


async def test_the_new_lots_policy_credits_fresh_points(
    stubs: Stubs, redeem_js: JetStreamContext, gateway: SandboxGateway
) -> None:
    shop = await Shop.open(stubs, redeem_js, gateway, redeem={"cancelPolicy": "newLots"})
    member = await shop.member(points=1000)
    await shop.item("desk", price=600)
    order = await shop.place(member, lines(("desk", 1)))
    await cancel(shop, order.order_id)
    assert (await shop.balance(member)).available == 1000
    assert (await history_types(shop, member))[0] == ledger_pb2.TRANSACTION_TYPE_CREDIT


async def test_shipping_then_delivery_and_no_cancel_after_shipment(shop: Shop) -> None:
    member = await shop.member(points=1000)
    await shop.item("chair", price=300)
    order = await shop.place(member, lines(("chair", 1)))
    code, detail = await rpc_error(
        fulfil(shop, order.order_id, redeem_pb2.FULFILMENT_STATUS_DELIVERED)
    )
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_NOT_SHIPPED")
    code, detail = await rpc_error(
        fulfil(shop, order.order_id, redeem_pb2.FULFILMENT_STATUS_SHIPPED, carrier="Yamato")
    )
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, "tracking_number")
    shipped = await fulfil(
        shop,
        order.order_id,
        redeem_pb2.FULFILMENT_STATUS_SHIPPED,
        carrier="Yamato",
        tracking_number="1234-5678",
    )
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == (
        orders_pb2.ORDER_STATUS_SHIPPED,
        "Yamato",
        "1234-5678",
    )
    code, detail = await rpc_error(cancel(shop, order.order_id))
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_NOT_CANCELLABLE")
    delivered = await fulfil(shop, order.order_id, redeem_pb2.FULFILMENT_STATUS_DELIVERED)
    assert delivered.status == orders_pb2.ORDER_STATUS_DELIVERED
    assert delivered.HasField("deliver_time")
    assert (await shop.balance(member)).available == 700


async def test_order_history_pages_newest_first_per_member(shop: Shop) -> None:
    member = await shop.member(points=10_000)
    other = await shop.member(points=10_000)
    await shop.item("pen", price=10, stock=100)
    placed = [(await shop.place(member, lines(("pen", n)))).order_id for n in (1, 2, 3)]
    await shop.place(other, lines(("pen", 1)))
    seen: list[str] = []
    token = ""
    while True:
        reply = await shop.redeem.ListOrders(
            redeem_pb2.ListOrdersRequest(
                member=members_pb2.MemberSelector(account_id=member), page_size=2, page_token=token
            ),
            metadata=shop.md(Role.READONLY),
        )
        seen += [o.order_id for o in reply.orders]
        token = reply.next_page_token
        if not token:
            break
    assert seen == placed[::-1]
    everyone = await shop.redeem.ListOrders(redeem_pb2.ListOrdersRequest(), metadata=shop.md())
    assert len(everyone.orders) == 4
    detail = await shop.get(placed[1])
    assert (detail.lines[0].sku, detail.lines[0].quantity, detail.total_points) == ("pen", 2, 20)
