"""Self-pay: a member short of points pays the rest by card through the payment gateway."""

from __future__ import annotations

import grpc
from nats.js import JetStreamContext

from runtime.auth import Role
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from tamaru.redeem.v1 import orders_pb2
from tests.redeem.shop import Shop, Stubs, lines, rpc_error


async def test_a_good_card_pays_what_the_points_do_not_cover(shop: Shop) -> None:
    member = await shop.member(points=800)
    await shop.item("camera", price=1000)
    order = await shop.place(member, lines(("camera", 1)), token="tok_approve")
    assert order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert (order.total_points, order.points_paid, order.yen_paid) == (1000, 800, 200)
    assert shop.payments() == {order.order_id: (200, "captured")}
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (0, 0)


async def test_a_declined_card_changes_nothing(shop: Shop) -> None:
    member = await shop.member(points=800)
    await shop.item("camera", price=1000, stock=1)
    code, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("camera", 1)), token="tok_decline"),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert (code, detail.reason, detail.field) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAYMENT_DECLINED",
        "payment_token",
    )
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (800, 0)
    assert (await shop.stock("camera")).available == 1
    assert shop.payments() == {}


async def test_a_gateway_timeout_voids_whatever_it_authorised(shop: Shop) -> None:
    member = await shop.member(points=800)
    await shop.item("camera", price=1000, stock=1)
    code, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("camera", 1)), token="tok_timeout"),
            metadata=shop.md(Role.BACKEND),
        )
    )
    # A definite answer: retrying this key can only answer the same (a new key may succeed).
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PAYMENT_TIMEOUT")
    # The sandbox did authorise before "losing" its reply: the saga found it and voided it.
    assert [status for _, status in shop.payments().values()] == ["voided"]
    assert (await shop.balance(member)).available == 800
    assert (await shop.stock("camera")).reserved == 0


async def test_without_self_pay_a_short_balance_is_refused(
    stubs: Stubs, redeem_js: JetStreamContext, gateway: SandboxGateway
) -> None:
    shop = await Shop.open(stubs, redeem_js, gateway, selfPay={"enabled": False})
    member = await shop.member(points=800)
    await shop.item("camera", price=1000)
    code, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("camera", 1)), token="tok_approve"),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_POINTS")
    assert "self-pay is disabled" in detail.message
    assert (await shop.balance(member)).available == 800
    assert shop.payments() == {}


async def test_self_pay_limits_are_enforced(
    stubs: Stubs, redeem_js: JetStreamContext, gateway: SandboxGateway
) -> None:
    shop = await Shop.open(
        stubs, redeem_js, gateway, selfPay={"enabled": True, "minPoints": 500, "maxYen": 300}
    )
    poor = await shop.member(points=100)
    rich = await shop.member(points=600)
    await shop.item("bike", price=1000)
    for member, reason in ((poor, "SELF_PAY_MIN_POINTS"), (rich, "SELF_PAY_LIMIT_EXCEEDED")):
        code, detail = await rpc_error(
            shop.redeem.PlaceOrder(
                shop.order_request(member, lines(("bike", 1)), token="tok_approve"),
                metadata=shop.md(Role.BACKEND),
            )
        )
        assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, reason)
    assert shop.payments() == {}
    assert [(await shop.balance(m)).available for m in (poor, rich)] == [100, 600]
