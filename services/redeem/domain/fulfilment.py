"""What may happen to a confirmed order: cancellation before shipment, shipping, delivery."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from runtime.errors import FailedPrecondition, InvalidArgument
from services.redeem.domain.orders import Order, OrderStatus, SagaPhase, check_text


def start_cancel(order: Order, reason: str) -> Order:
    """The order, now cancelling; FAILED_PRECONDITION once shipped or if it never confirmed."""
    check_text(reason, "reason")
    if order.status is not OrderStatus.CONFIRMED:
        detail = {
            OrderStatus.PENDING: "it is still being placed; try again in a moment",
            OrderStatus.FAILED: "it failed and nothing was charged",
            OrderStatus.SHIPPED: "it has shipped",
            OrderStatus.DELIVERED: "it was delivered",
        }.get(order.status, f"it is {order.status.value}")
        raise FailedPrecondition(
            f"order {order.order_id} cannot be cancelled: {detail}",
            reason="ORDER_NOT_CANCELLABLE",
            field="order_id",
        )
    if order.codes:
        raise FailedPrecondition(
            f"order {order.order_id} cannot be cancelled: its e-gift codes were issued and may "
            "already be used",
            reason="ORDER_NOT_CANCELLABLE",
            field="order_id",
        )
    return dataclasses.replace(
        order,
        status=OrderStatus.CANCELLING,
        phase=SagaPhase.CANCELLING,
        cancel_reason=reason,
        attempts=0,
    )


def ship(order: Order, carrier: str, tracking_number: str, at: datetime) -> Order:
    check_text(carrier, "carrier", required=True, limit=64)
    check_text(tracking_number, "tracking_number", required=True, limit=64)
    if order.status is OrderStatus.SHIPPED and (order.carrier, order.tracking_number) == (
        carrier,
        tracking_number,
    ):
        return order
    if order.status is not OrderStatus.CONFIRMED:
        raise FailedPrecondition(
            f"order {order.order_id} is {order.status.value}; only confirmed orders ship",
            reason="ORDER_NOT_SHIPPABLE",
            field="order_id",
        )
    return dataclasses.replace(
        order,
        status=OrderStatus.SHIPPED,
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=at,
    )


def deliver(order: Order, at: datetime) -> Order:
    if order.status is OrderStatus.DELIVERED:
        return order
    if order.status is not OrderStatus.SHIPPED:
        raise FailedPrecondition(
            f"order {order.order_id} is {order.status.value}; only shipped orders are delivered",
            reason="ORDER_NOT_SHIPPED",
            field="order_id",
        )
    return dataclasses.replace(order, status=OrderStatus.DELIVERED, delivered_at=at)


def require_order_id(value: str) -> str:
    if not value or len(value) > 64:
        raise InvalidArgument("order_id is required (at most 64 characters)", field="order_id")
    return value
