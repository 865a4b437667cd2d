"""Gift code pools: add codes (each code once per program), draw unused ones for an order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.adapters.orm import GiftCodeRow, ReservationLineRow

AVAILABLE = "available"
ISSUED = "issued"


async def add_codes(
    session: AsyncSession, owner: str, item_id: str, codes: Sequence[str]
) -> list[str]:
    """Insert the codes not seen before in `owner`'s pools; returns those added."""
    result = await session.execute(
        insert(GiftCodeRow)
        .values(
            [
                {"program_id": owner, "item_id": item_id, "code": code, "status": AVAILABLE}
                for code in codes
            ]
        )
        .on_conflict_do_nothing(index_elements=["program_id", "code"])
        .returning(GiftCodeRow.code)
    )
    return list(result.scalars().all())


async def issued_codes(session: AsyncSession, reservation_id: str) -> list[tuple[str, str]]:
    """(item_id, code) handed to this reservation, in the order they were drawn."""
    rows = await session.execute(
        select(GiftCodeRow.item_id, GiftCodeRow.code)
        .where(GiftCodeRow.reservation_id == reservation_id)
        .order_by(GiftCodeRow.code_id)
    )
    return [(item_id, code) for item_id, code in rows]


async def take_codes(
    session: AsyncSession, item_id: str, count: int, reservation_id: str, now: datetime
) -> int:
    """Give up to `count` unused codes of the item to the reservation; returns how many.

    SKIP LOCKED lets concurrent orders draw different codes instead of queuing on the same
    first rows; the `status = 'available'` condition (and the trigger) keeps a code from ever
    being given twice.
    """
    # Two statements, not UPDATE ... IN (SELECT ... LIMIT): locked rows are ours alone before
    # anything is written, and the update cannot be re-planned onto more rows than asked.
    picked = (
        await session.scalars(
            select(GiftCodeRow.code_id)
            .where(GiftCodeRow.item_id == item_id, GiftCodeRow.status == AVAILABLE)
            .order_by(GiftCodeRow.code_id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not picked:
        return 0
    await session.execute(
        update(GiftCodeRow)
        .where(GiftCodeRow.code_id.in_(picked))
        .values(status=ISSUED, reservation_id=reservation_id, issued_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(picked)


async def any_available(session: AsyncSession, item_id: str) -> int:
    """Unused codes of the item, including ones other transactions hold locks on."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(GiftCodeRow)
            .where(GiftCodeRow.item_id == item_id, GiftCodeRow.status == AVAILABLE)
        )
        or 0
    )


async def egift_lines(session: AsyncSession, reservation_id: str) -> list[ReservationLineRow]:
    rows = await session.scalars(
        select(ReservationLineRow)
        .where(
            ReservationLineRow.reservation_id == reservation_id,
            ReservationLineRow.item_type == "egift",
        )
        .order_by(ReservationLineRow.item_id)
    )
    return list(rows.all())
