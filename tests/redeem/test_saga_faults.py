"""A failure injected at any step of the order saga leaves nothing behind: no open hold, no
reservation, no card authorisation, and the member's points as they were."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from runtime.auth import Role
from services.redeem.domain import saga
from services.redeem.service_layer.fault_plan import FaultPlan
from tamaru.redeem.v1 import orders_pb2
from tests.redeem.shop import Shop, lines, rpc_error

BEFORE_PIVOT = [step for step in saga.FORWARD_STEPS if not saga.after_pivot(step)]


async def assert_nothing_left(shop: Shop, member: str, sku: str, points: int, stock: int) -> None:
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (points, 0)
    level = await shop.stock(sku)
    assert (level.on_hand, level.reserved) == (stock, 0)
    assert shop.open_payments() == []
    assert all(status != "captured" for _, status in shop.payments().values())


@pytest.mark.parametrize("after", [False, True], ids=["before", "lost-reply"])
@pytest.mark.parametrize("step", [*BEFORE_PIVOT, saga.PIVOT])
async def test_a_failure_at_any_step_is_fully_compensated(
    shop: Shop, faults: FaultPlan, step: str, after: bool
) -> None:
    # 800 points for a 1,000-point item: every step runs (hold, card authorisation, captures).
    member = await shop.member(points=800)
    await shop.item("kettle", price=1000, stock=4)
    faults.fail(step, after=after)
    request = shop.order_request(member, lines(("kettle", 1)), token="tok_approve")
    if step == saga.PIVOT and after:
        # Stock committed but the reply lost: past the pivot the saga only moves forward.
        reply = await shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
        assert reply.order.status == orders_pb2.ORDER_STATUS_CONFIRMED
        assert (reply.order.points_paid, reply.order.yen_paid) == (800, 200)
        assert (await shop.stock("kettle")).on_hand == 3
        assert shop.payments()[reply.order.order_id] == (200, "captured")
        return
    code, detail = await rpc_error(shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND)))
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INJECTED_FAULT")
    assert faults.fired == [f"fail:{step}:{after}"]
    (order,) = await shop.orders_of(member)
    assert order.status == orders_pb2.ORDER_STATUS_FAILED
    await assert_nothing_left(shop, member, "kettle", points=800, stock=4)


@pytest.mark.parametrize("undo", ["release_stock", "release_hold", "void_payment"])
async def test_a_failing_undo_step_is_retried_until_done(
    shop: Shop, faults: FaultPlan, undo: str
) -> None:
    member = await shop.member(points=800)
    await shop.item("pot", price=1000, stock=2)
    faults.fail(saga.CAPTURE_POINTS).fail(undo, times=1)
    _, detail = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(member, lines(("pot", 1)), token="tok_approve"),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert detail.reason == "INJECTED_FAULT"
    assert faults.fired == [f"fail:{saga.CAPTURE_POINTS}:False", f"fail:{undo}:False"]
    await assert_nothing_left(shop, member, "pot", points=800, stock=2)


async def test_an_order_given_up_in_an_outage_answers_a_definite_error_on_every_retry(
    shop: Shop, faults: FaultPlan
) -> None:
    """Accounts "not running" (no NATS responder) at capture for every try the saga allows: the
    order is undone, and its key answers FAILED_PRECONDITION with the outage's reason, not
    UNAVAILABLE, which would have clients retry the same key for nothing (the bank test's
    long run did so for 90 s; docs/reliability.md)."""
    member = await shop.member(points=800)
    await shop.item("mug", price=500, stock=2)
    faults.outage(saga.CAPTURE_POINTS, times=100)
    request = shop.order_request(member, lines(("mug", 1)))
    pending = await shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
    assert pending.order.status == orders_pb2.ORDER_STATUS_PENDING
    for _ in range(200):  # the recovery worker retries with a backoff, then gives up
        order = await shop.get(pending.order.order_id)
        if order.status != orders_pb2.ORDER_STATUS_PENDING:
            break
        await asyncio.sleep(0.1)
    assert order.status == orders_pb2.ORDER_STATUS_FAILED
    assert faults.fired.count(f"outage:{saga.CAPTURE_POINTS}:False") >= 2
    for _ in range(2):
        code, detail = await rpc_error(
            shop.redeem.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
        )
        assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SERVICE_UNAVAILABLE")
        assert "new idempotency key" in detail.message
    await assert_nothing_left(shop, member, "mug", points=800, stock=2)
