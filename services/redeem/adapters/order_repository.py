"""Orders in SQL: the saga's state is saved with a fence (the lease owner), so a driver that
lost its lease can never overwrite the progress of the one that took over."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import InvalidArgument, NotFound
from services.redeem.adapters.orm import OrderRow, OrderStepRow
from services.redeem.domain.orders import (
    Address,
    GiftCode,
    LineRequest,
    Order,
    OrderKind,
    OrderStatus,
    PricedLine,
    SagaPhase,
)

# Fields of `Order` stored in columns of the same name.
_PLAIN = (
    "order_id", "program_id", "member_id", "idempotency_key", "payment_token", "lottery_id",
    "shipping_fee_points", "items_points", "total_points", "points_paid", "yen_paid",
    "reservation_id", "hold_id", "capture_tx_id", "authorization_id", "failure_reason",
    "failure_message", "failure_code", "failure_field", "in_doubt", "attempts", "carrier",
    "tracking_number", "cancel_reason", "refund_tx_id", "created_at", "updated_at",
    "confirmed_at", "shipped_at", "delivered_at", "cancelled_at",
)  # fmt: skip


class LeaseLost(Exception):
    """Another driver took this saga over; stop driving it."""


def to_columns(order: Order) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(order, name) for name in _PLAIN}
    values.update(
        kind=order.kind.value,
        status=order.status.value,
        phase=order.phase.value,
        lines=[asdict(line) for line in order.lines],
        address=asdict(order.address) if order.address else None,
        priced_lines=[asdict(line) for line in order.priced_lines],
        codes=[asdict(code) for code in order.codes],
        completed=list(order.completed),
        undone=list(order.undone),
    )
    return values


def to_order(row: OrderRow) -> Order:
    plain = {name: getattr(row, name) for name in _PLAIN}
    return Order(
        **plain,
        kind=OrderKind(row.kind),
        status=OrderStatus(row.status),
        phase=SagaPhase(row.phase),
        lines=tuple(LineRequest(**line) for line in row.lines),
        address=Address(**row.address) if row.address else None,
        priced_lines=tuple(PricedLine(**line) for line in row.priced_lines),
        codes=tuple(GiftCode(**code) for code in row.codes),
        completed=tuple(row.completed),
        undone=tuple(row.undone),
    )


class OrderRepository:
    def __init__(self, session: AsyncSession, program_id: str | None = None) -> None:
        self.session = session
        self.program_id = program_id

    async def insert(self, order: Order, request_hash: str, owner: str, lease: timedelta) -> bool:
        """Store a new order leased to `owner`; False when its idempotency key already exists."""
        values = to_columns(order)
        # Leases are judged by the database's clock (`claim`, `due_for_recovery`), so they are
        # written by it too: a process whose clock runs ahead would otherwise keep recovery off
        # its sagas for as long as its clock is off (found by the bank test's clock skew).
        values.update(request_hash=request_hash, lease_owner=owner, lease_until=func.now() + lease)
        result = await self.session.execute(
            insert(OrderRow).values(**values).on_conflict_do_nothing().returning(OrderRow.order_id)
        )
        return result.scalar_one_or_none() is not None

    async def by_key(self, program_id: str, key: str) -> tuple[Order, str] | None:
        row = (
            await self.session.execute(
                select(OrderRow).where(
                    OrderRow.program_id == program_id, OrderRow.idempotency_key == key
                )
            )
        ).scalar_one_or_none()
        return None if row is None else (to_order(row), row.request_hash)

    async def get(self, order_id: str, *, for_update: bool = False) -> Order:
        query = select(OrderRow).where(OrderRow.order_id == order_id)
        if self.program_id is not None:
            query = query.where(OrderRow.program_id == self.program_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no order {order_id!r}", reason="ORDER_NOT_FOUND", field="order_id")
        return to_order(row)

    async def save(
        self,
        order: Order,
        *,
        owner: str | None,
        lease: timedelta,
        now: datetime,
        step: str = "",
        outcome: str = "",
        detail: str = "",
        new_owner: str | None = None,
    ) -> None:
        """Write the order (fenced by `owner`, renewing its lease) and log the step;
        `new_owner` hands the saga to another driver (e.g. a cancellation starting)."""
        values = to_columns(order)
        values["updated_at"] = now
        values["lease_until"] = func.now() + lease  # the database's clock, as in `insert`
        if new_owner is not None:
            values["lease_owner"] = new_owner
        query = update(OrderRow).where(OrderRow.order_id == order.order_id)
        if owner is not None:
            query = query.where(OrderRow.lease_owner == owner)
        # No ORM synchronization: the session holds no loaded orders to bring up to date (each
        # transaction is fresh), and evaluating the update against it costs CPU on every step.
        result = await self.session.execute(
            query.values(**values), execution_options={"synchronize_session": False}
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(order.order_id)
        if step:
            self.session.add(
                OrderStepRow(
                    order_id=order.order_id,
                    program_id=order.program_id,
                    step=step,
                    outcome=outcome,
                    detail=detail[:2000],
                )
            )

    async def claim(self, order_id: str, owner: str, lease: timedelta) -> bool:
        """Take a running saga whose lease has passed (or is ours); False if someone holds it."""
        result = await self.session.execute(
            update(OrderRow)
            .where(
                OrderRow.order_id == order_id,
                OrderRow.phase != SagaPhase.DONE.value,
                or_(OrderRow.lease_until < func.now(), OrderRow.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=func.now() + lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unfinished_summary(self) -> list[tuple[str, str, int, float]]:
        """(status, phase, count, age in seconds of the oldest) of sagas not done yet."""
        rows = await self.session.execute(
            text(
                "SELECT status, phase, count(*), "
                "coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                "FROM orders WHERE phase <> 'done' GROUP BY status, phase"
            )
        )
        return [(str(s), str(ph), int(n), float(age)) for s, ph, n, age in rows]

    async def due_for_recovery(self, limit: int) -> list[tuple[str, str]]:
        """(order id, program id) of running sagas nobody drives (lease passed), oldest first."""
        rows = await self.session.execute(
            select(OrderRow.order_id, OrderRow.program_id)
            .where(OrderRow.phase != SagaPhase.DONE.value, OrderRow.lease_until < func.now())
            .order_by(OrderRow.lease_until)
            .limit(limit)
        )
        return [(order_id, program_id) for order_id, program_id in rows.all()]

    async def release_lease(self, order_id: str, owner: str, retry_after: timedelta) -> None:
        """Hand the saga to the recovery worker `retry_after` from now (the database's now)."""
        await self.session.execute(
            update(OrderRow)
            .where(OrderRow.order_id == order_id, OrderRow.lease_owner == owner)
            .values(lease_until=func.now() + retry_after)
        )

    async def steps(self, order_id: str) -> list[tuple[str, str]]:
        rows = await self.session.execute(
            select(OrderStepRow.step, OrderStepRow.outcome)
            .where(OrderStepRow.order_id == order_id)
            .order_by(OrderStepRow.seq)
        )
        return [(step, outcome) for step, outcome in rows.all()]

    async def page(
        self,
        program_id: str,
        *,
        member_id: str | None,
        status: OrderStatus | None,
        limit: int,
        token: str,
    ) -> tuple[list[Order], str]:
        """Newest first; the page token is the last row's (created_at, order_id)."""
        query = select(OrderRow).where(OrderRow.program_id == program_id)
        if member_id is not None:
            query = query.where(OrderRow.member_id == member_id)
        if status is not None:
            query = query.where(OrderRow.status == status.value)
        if token:
            after_time, after_id = decode_token(token)
            query = query.where(
                or_(
                    OrderRow.created_at < after_time,
                    and_(OrderRow.created_at == after_time, OrderRow.order_id < after_id),
                )
            )
        query = query.order_by(OrderRow.created_at.desc(), OrderRow.order_id.desc())
        rows = list((await self.session.execute(query.limit(limit + 1))).scalars())
        orders = [to_order(row) for row in rows[:limit]]
        next_token = ""
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_token(last.created_at, last.order_id)
        return orders, next_token


def encode_token(created_at: datetime, order_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), order_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str) -> tuple[datetime, str]:
    try:
        when, order_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(when), str(order_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(
            "page_token is not one this service returned", field="page_token"
        ) from exc
