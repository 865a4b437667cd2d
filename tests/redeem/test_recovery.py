"""A redeem process that dies mid-saga: a recovery worker (of the restarted instance, or of any
other replica) takes the saga over once its lease has passed and finishes or undoes it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest

from runtime.auth import Role
from runtime.programs.spec_commerce import Redeem
from runtime.service import ServiceApp
from services.redeem.app import make_definition
from services.redeem.domain import saga
from services.redeem.entrypoints.wiring import RedeemOptions
from services.redeem.service_layer.fault_plan import FaultPlan
from services.redeem.service_layer.saga_runner import SagaOptions
from tamaru.redeem.v1 import orders_pb2, redeem_pb2, redeem_pb2_grpc
from tests.redeem.shop import Shop, lines
from tests.support.services import running_service

SHORT_LEASE = SagaOptions(lease=timedelta(seconds=1), inline_attempts=2, retry_delay=0.05)
# The instance that 'dies' keeps its lease long enough that, on a loaded machine, the session's
# other redeem instance (recovering every 0.5 s) cannot take the saga over mid-request; after
# the crash the saga waits this long before recovery picks it up.
CRASHING_LEASE = SagaOptions(lease=timedelta(seconds=4), inline_attempts=2, retry_delay=0.05)


async def crash_an_order(
    shop: Shop,
    plan: FaultPlan,
    database_url: str,
    nats_url: str,
    request: redeem_pb2.PlaceOrderRequest,
) -> None:
    """Place the order on an instance that 'dies' at the planned step, then stop it."""
    options = RedeemOptions(
        gateway=shop.gateway, faults=plan, saga=CRASHING_LEASE, recovery_interval=3600
    )
    async with running_service(make_definition(options), database_url, nats_url) as app:
        await known(app, shop.program.program_id)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = redeem_pb2_grpc.RedeemServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.PlaceOrder(request, metadata=shop.md(Role.BACKEND))
            assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert plan.fired[-1].startswith("crash:")


async def known(app: ServiceApp, program_id: str) -> None:
    assert app.ctx is not None
    for _ in range(200):
        if any(p.program_id == program_id for p in app.ctx.programs.all()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{program_id} never reached the new instance")


async def final_order(shop: Shop, member: str) -> orders_pb2.Order:
    for _ in range(300):
        (order,) = await shop.orders_of(member)
        if order.status not in (
            orders_pb2.ORDER_STATUS_PENDING,
            orders_pb2.ORDER_STATUS_CANCELLING,
        ):
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"order still {order.status} after 15 s")


@pytest.mark.parametrize("step", [saga.HOLD_POINTS, saga.CAPTURE_POINTS, saga.COMMIT_STOCK])
async def test_a_saga_cut_off_after_a_step_is_finished_after_restart(
    shop: Shop, database_url: str, nats_url: str, step: str
) -> None:
    member = await shop.member(points=800)
    await shop.item("drone", price=1000, stock=2)
    request = shop.order_request(member, lines(("drone", 1)), token="tok_approve")
    await crash_an_order(shop, FaultPlan().crash(step), database_url, nats_url, request)
    (pending,) = await shop.orders_of(member)
    assert pending.status == orders_pb2.ORDER_STATUS_PENDING

    fresh = RedeemOptions(gateway=shop.gateway, saga=SHORT_LEASE, recovery_interval=0.2)
    async with running_service(make_definition(fresh), database_url, nats_url):
        order = await final_order(shop, member)
    assert order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert (order.points_paid, order.yen_paid) == (800, 200)
    assert shop.payments() == {order.order_id: (200, "captured")}
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (0, 0)
    stock = await shop.stock("drone")
    assert (stock.on_hand, stock.reserved) == (1, 0)


async def test_a_compensation_cut_off_half_way_is_finished_after_restart(
    shop: Shop, database_url: str, nats_url: str
) -> None:
    member = await shop.member(points=800)
    await shop.item("drone", price=1000, stock=2)
    request = shop.order_request(member, lines(("drone", 1)), token="tok_approve")
    plan = FaultPlan().fail(saga.CAPTURE_PAYMENT).crash("release_hold", after=False)
    await crash_an_order(shop, plan, database_url, nats_url, request)

    fresh = RedeemOptions(gateway=shop.gateway, saga=SHORT_LEASE, recovery_interval=0.2)
    async with running_service(make_definition(fresh), database_url, nats_url):
        order = await final_order(shop, member)
    assert (order.status, order.failure_reason) == (
        orders_pb2.ORDER_STATUS_FAILED,
        "INJECTED_FAULT",
    )
    balance = await shop.balance(member)
    assert (balance.available, balance.held) == (800, 0)
    assert (await shop.stock("drone")).reserved == 0
    assert shop.open_payments() == []


def test_a_dead_drivers_saga_is_resumed_before_the_shortest_hold_can_expire() -> None:
    """Worst case: the driver dies just after its hold was placed and its lease renewed; a
    replica resumes the saga after the lease plus one recovery interval. That must come well
    before the shortest hold a program may configure expires (a bank-test finding)."""
    shortest_hold = Redeem.model_fields["hold_ttl_seconds"].metadata
    minimum = next(m.ge for m in shortest_hold if hasattr(m, "ge"))
    worst_case = SagaOptions().lease.total_seconds() + RedeemOptions().recovery_interval
    assert worst_case * 2 <= minimum
