"""Cancellation, fulfilment updates and order reads."""

from __future__ import annotations

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from services.redeem.adapters.messages import order_to_proto
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.domain import fulfilment
from services.redeem.domain.orders import Order, OrderStatus, SagaPhase
from services.redeem.service_layer.saga_runner import SagaRunner, new_owner, now
from tamaru.redeem.v1 import events_pb2


async def cancel_order(runner: SagaRunner, program_id: str, order_id: str, reason: str) -> Order:
    """Start the cancellation (points back, card refunded) and run it; cancelling twice is the
    same as once."""
    owner = new_owner()

    async def start(uow: UnitOfWork) -> tuple[Order, bool]:
        repo = OrderRepository(uow.session, program_id)
        order = await repo.get(order_id, for_update=True)
        if order.status in (OrderStatus.CANCELLING, OrderStatus.CANCELLED):
            return order, False
        cancelling = fulfilment.start_cancel(order, reason)
        await repo.save(
            cancelling,
            owner=None,
            lease=runner.options.lease,
            now=now(),
            step="cancel_requested",
            outcome="done",
            detail=reason,
            new_owner=owner,
        )
        return cancelling, True

    order, started = await run_in_transaction(runner.uow_factory, start)
    if started:
        return await runner.drive(order.order_id, owner)
    if order.phase is not SagaPhase.DONE and await runner.claim(order.order_id, owner):
        return await runner.drive(order.order_id, owner)
    return order


async def update_fulfilment(
    runner: SagaRunner,
    uow: UnitOfWork,
    program_id: str,
    order_id: str,
    *,
    shipped: bool,
    carrier: str,
    tracking_number: str,
) -> Order:
    repo = OrderRepository(uow.session, program_id)
    order = await repo.get(order_id, for_update=True)
    at = now()
    if shipped:
        updated = fulfilment.ship(order, carrier, tracking_number, at)
        event = "order_shipped"
    else:
        updated = fulfilment.deliver(order, at)
        event = "order_delivered"
    if updated is order:
        return order
    await repo.save(
        updated, owner=None, lease=runner.options.lease, now=at, step=event, outcome="done"
    )
    await uow.emit(
        program_id,
        event,
        events_pb2.OrderChanged(order=order_to_proto(updated)),
        aggregate_id=order_id,
    )
    return updated
