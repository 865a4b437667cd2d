"""Reservation rows: insert, settle exactly once (`UPDATE ... WHERE status = 'open'`), load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import AlreadyExists
from services.catalog.adapters.orm import ItemRow, ReservationLineRow, ReservationRow
from services.catalog.domain.items import ItemType
from services.catalog.domain.reservations import (
    PricedLine,
    Reservation,
    ReservationStatus,
)

OPEN = ReservationStatus.OPEN.value
COMMITTED = ReservationStatus.COMMITTED.value
RELEASED = ReservationStatus.RELEASED.value


async def insert_reservation(session: AsyncSession, reservation: Reservation) -> None:
    # ON CONFLICT on the unique (program, order) index rather than a savepoint around the
    # insert: the same answer in one round trip instead of three.
    inserted = await session.scalar(
        pg_insert(ReservationRow)
        .values(
            reservation_id=reservation.reservation_id,
            program_id=reservation.program_id,
            order_id=reservation.order_id,
            member_id=reservation.member_id,
            status=OPEN,
            total_points=reservation.total_points,
            created_at=reservation.created_at,
            expires_at=reservation.expires_at,
        )
        .on_conflict_do_nothing(index_elements=["program_id", "order_id"])
        .returning(ReservationRow.reservation_id)
    )
    if inserted is None:  # this order already holds a reservation
        raise AlreadyExists(
            f"order {reservation.order_id} already has a reservation: retry with the idempotency "
            "key of the first request, or release that reservation first",
            reason="ORDER_ALREADY_RESERVED",
            field="order_id",
        )
    await session.execute(
        insert(ReservationLineRow),
        [
            {
                "reservation_id": reservation.reservation_id,
                "line_no": line.line_no,
                "item_id": line.item_id,
                "sku": line.sku,
                "title": line.title,
                "item_type": line.type.value,
                "quantity": line.quantity,
                "unit_price_points": line.unit_price_points,
            }
            for line in reservation.lines
        ],
    )


async def member_quantities(
    session: AsyncSession, program_id: str, member_id: str, item_ids: Sequence[str]
) -> dict[str, int]:
    """Units of each item the member holds in open or committed reservations of this program."""
    if not item_ids:
        return {}
    rows = await session.execute(
        select(ReservationLineRow.item_id, func.sum(ReservationLineRow.quantity))
        .join(ReservationRow, ReservationRow.reservation_id == ReservationLineRow.reservation_id)
        .where(
            ReservationRow.program_id == program_id,
            ReservationRow.member_id == member_id,
            ReservationRow.status.in_((OPEN, COMMITTED)),
            ReservationLineRow.item_id.in_(item_ids),
        )
        .group_by(ReservationLineRow.item_id)
    )
    return {item_id: int(total) for item_id, total in rows}


async def settle(
    session: AsyncSession,
    program_id: str,
    reservation_id: str,
    status: ReservationStatus,
    now: datetime,
    *,
    reason: str = "",
    unexpired_only: bool = False,
) -> bool:
    """Move an open reservation to `status`; False when it is not open (or has expired)."""
    query = (
        update(ReservationRow)
        .where(
            ReservationRow.reservation_id == reservation_id,
            ReservationRow.program_id == program_id,
            ReservationRow.status == OPEN,
        )
        .values(status=status.value, settled_at=now, release_reason=reason)
        .returning(ReservationRow.reservation_id)
    )
    if unexpired_only:
        query = query.where(ReservationRow.expires_at > now)
    return (await session.execute(query)).scalar_one_or_none() is not None


async def mark_returned(
    session: AsyncSession, program_id: str, reservation_id: str, now: datetime, reason: str
) -> bool:
    """Move a committed reservation to returned; False when it is not committed."""
    query = (
        update(ReservationRow)
        .where(
            ReservationRow.reservation_id == reservation_id,
            ReservationRow.program_id == program_id,
            ReservationRow.status == COMMITTED,
        )
        .values(status=ReservationStatus.RETURNED.value, returned_at=now, release_reason=reason)
        .returning(ReservationRow.reservation_id)
    )
    return (await session.execute(query)).scalar_one_or_none() is not None


async def claim_expired(session: AsyncSession, now: datetime, limit: int) -> list[ReservationRow]:
    """Open reservations past their expiry, locked; other sweepers skip them."""
    query = (
        select(ReservationRow)
        .where(ReservationRow.status == OPEN, ReservationRow.expires_at <= now)
        .order_by(ReservationRow.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def release_expired_rows(
    session: AsyncSession, reservation_ids: Sequence[str], now: datetime, reason: str
) -> None:
    await session.execute(
        update(ReservationRow)
        .where(ReservationRow.reservation_id.in_(reservation_ids), ReservationRow.status == OPEN)
        .values(status=RELEASED, settled_at=now, release_reason=reason)
    )


async def find(
    session: AsyncSession, program_id: str, reservation_id: str, *, for_update: bool = False
) -> Reservation | None:
    query = select(ReservationRow).where(
        ReservationRow.reservation_id == reservation_id, ReservationRow.program_id == program_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.scalars(query.execution_options(populate_existing=True))).first()
    if row is None:
        return None
    lines = await load_lines(session, [row.reservation_id])
    return to_reservation(row, lines.get(row.reservation_id, ()))


async def load_lines(
    session: AsyncSession, reservation_ids: Sequence[str]
) -> dict[str, tuple[PricedLine, ...]]:
    # The category is the item's (lines do not copy it): reports group by what the catalog says.
    rows = await session.execute(
        select(ReservationLineRow, ItemRow.category)
        .join(ItemRow, ItemRow.item_id == ReservationLineRow.item_id)
        .where(ReservationLineRow.reservation_id.in_(reservation_ids))
        .order_by(ReservationLineRow.reservation_id, ReservationLineRow.line_no)
    )
    out: dict[str, list[PricedLine]] = {}
    for row, category in rows:
        out.setdefault(row.reservation_id, []).append(
            PricedLine(
                line_no=row.line_no,
                item_id=row.item_id,
                sku=row.sku,
                title=row.title,
                type=ItemType(row.item_type),
                quantity=row.quantity,
                unit_price_points=row.unit_price_points,
                category=category,
            )
        )
    return {key: tuple(value) for key, value in out.items()}


def to_reservation(row: ReservationRow, lines: Sequence[PricedLine]) -> Reservation:
    return Reservation(
        reservation_id=row.reservation_id,
        program_id=row.program_id,
        order_id=row.order_id,
        member_id=row.member_id,
        status=ReservationStatus(row.status),
        lines=tuple(lines),
        created_at=row.created_at,
        expires_at=row.expires_at,
        settled_at=row.settled_at,
        release_reason=row.release_reason,
        returned_at=row.returned_at,
    )
