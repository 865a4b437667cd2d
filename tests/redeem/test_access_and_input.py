"""Roles, tenant isolation, bad input, and the events orders announce."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.messaging.streams import EVENTS_STREAM
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.entrypoints.grpc_servicer import RedeemServicer
from services.redeem.entrypoints.policy import POLICY, SERVICE
from tamaru.common.v1 import common_pb2
from tamaru.redeem.v1 import events_pb2, orders_pb2, redeem_pb2, redeem_pb2_grpc
from tests.redeem.shop import Shop, Stubs, key, lines, rpc_error


def test_every_method_has_an_access_rule_and_an_implementation() -> None:
    assert POLICY.missing_methods(SERVICE) == []
    generated = redeem_pb2_grpc.RedeemServiceServicer
    left_to_generated = [
        m.name
        for m in SERVICE.methods
        if getattr(RedeemServicer, m.name) is getattr(generated, m.name)
    ]
    assert left_to_generated == []


@pytest.mark.parametrize("role", [Role.GRANTER, Role.READONLY])
async def test_roles_that_may_not_order_are_refused(shop: Shop, role: Role) -> None:
    member = await shop.member(points=1000)
    await shop.item("cup", price=100)
    code, _ = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("cup", 1))), metadata=shop.md(role)
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert (await shop.balance(member)).available == 1000


async def test_another_programs_key_sees_no_order(
    shop: Shop, stubs: Stubs, redeem_js: JetStreamContext, gateway: SandboxGateway
) -> None:
    member = await shop.member(points=1000)
    await shop.item("cup", price=100)
    order = await shop.place(member, lines(("cup", 1)))
    other = await Shop.open(stubs, redeem_js, gateway)
    code, detail = await rpc_error(
        other.redeem.GetOrder(
            redeem_pb2.GetOrderRequest(order_id=order.order_id), metadata=other.md()
        )
    )
    assert (code, detail.reason) == (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND")
    listed = await other.redeem.ListOrders(redeem_pb2.ListOrdersRequest(), metadata=other.md())
    assert list(listed.orders) == []
    code, detail = await rpc_error(
        other.redeem.CancelOrder(
            redeem_pb2.CancelOrderRequest(idempotency_key=key(), order_id=order.order_id),
            metadata=other.md(),
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    # Nor can it order for this program's member.
    code, detail = await rpc_error(
        other.redeem.PlaceOrder(other.order_request(member, lines(("cup", 1))), metadata=other.md())
    )
    assert (code, detail.field) == (grpc.StatusCode.NOT_FOUND, "member")
    assert (await shop.get(order.order_id)).status == orders_pb2.ORDER_STATUS_CONFIRMED


async def test_bad_orders_are_refused_naming_the_field(shop: Shop) -> None:
    member = await shop.member(points=1000)
    await shop.item("cup", price=100)
    cases: list[tuple[redeem_pb2.PlaceOrderRequest, grpc.StatusCode, str]] = [
        (shop.order_request(member, []), grpc.StatusCode.INVALID_ARGUMENT, "lines"),
        (
            shop.order_request(member, lines(("cup", 0))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "lines[0].quantity",
        ),
        (
            shop.order_request(member, lines(("cup", 1), ("cup", 1))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "lines[1].sku",
        ),
        (shop.order_request(member, lines(("nope", 1))), grpc.StatusCode.NOT_FOUND, "lines[0].sku"),
        (
            shop.order_request(member, lines(("cup", 1)), address=None),
            grpc.StatusCode.INVALID_ARGUMENT,
            "shipping_address",
        ),
        (
            shop.order_request(member, lines(("cup", 1)), idempotency_key=""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "idempotency_key",
        ),
    ]
    no_member = shop.order_request(member, lines(("cup", 1)))
    no_member.ClearField("member")
    cases.append((no_member, grpc.StatusCode.INVALID_ARGUMENT, "member"))
    bad_address = shop.order_request(member, lines(("cup", 1)))
    bad_address.shipping_address.prefecture = "99"
    cases.append((bad_address, grpc.StatusCode.INVALID_ARGUMENT, "shipping_address.prefecture"))
    for request, status, field in cases:
        code, detail = await rpc_error(
            shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
        )
        assert (code, detail.field) == (status, field), detail.message
    assert await shop.orders_of(member) == []
    assert (await shop.balance(member)).available == 1000
    code, detail = await rpc_error(
        shop.redeem.ListOrders(
            redeem_pb2.ListOrdersRequest(page_token="garbage"), metadata=shop.md()
        )
    )
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, "page_token")


async def test_orders_announce_placed_and_confirmed(
    shop: Shop, redeem_js: JetStreamContext
) -> None:
    member = await shop.member(points=1000)
    await shop.item("cup", price=100)
    order = await shop.place(member, lines(("cup", 1)))
    sub = await redeem_js.pull_subscribe(
        f"tamaru.evt.{shop.program.program_id}.redeem.>", stream=EVENTS_STREAM
    )
    seen: dict[str, events_pb2.OrderChanged] = {}
    try:
        for _ in range(40):
            try:
                msgs = await sub.fetch(10, timeout=0.2)
            except NatsTimeout:
                msgs = []
            for msg in msgs:
                envelope = common_pb2.EventEnvelope.FromString(msg.data)
                seen[envelope.event_type] = events_pb2.OrderChanged.FromString(envelope.payload)
            if {"order_placed", "order_confirmed"} <= seen.keys():
                break
            await asyncio.sleep(0.05)
    finally:
        await sub.unsubscribe()
    assert seen["order_placed"].order.order_id == order.order_id
    assert seen["order_confirmed"].order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert seen["order_confirmed"].order.points_paid == 100
