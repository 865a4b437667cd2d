"""Queries on items and their stock, always scoped to what one program may see or own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.catalog.adapters.orm import GiftCodeRow, ItemRow
from services.catalog.domain.items import (
    SHARED_PROGRAM,
    Item,
    ItemDraft,
    ItemStatus,
    ItemType,
    StockLevel,
)


@dataclass(frozen=True, slots=True)
class CatalogView:
    """What one program sees: its own items, plus the shared catalog's unless it opted out or
    excluded the SKU (a program's own item shadows a shared one with the same SKU)."""

    program_id: str
    use_shared: bool = True
    excluded_skus: tuple[str, ...] = ()


def visible(view: CatalogView) -> ColumnElement[bool]:
    own = ItemRow.program_id == view.program_id
    if not view.use_shared or view.program_id == SHARED_PROGRAM:
        return own
    other = aliased(ItemRow)
    shadowed = exists().where(other.program_id == view.program_id, other.sku == ItemRow.sku)
    shared = [ItemRow.program_id == SHARED_PROGRAM, ~shadowed]
    if view.excluded_skus:
        shared.append(ItemRow.sku.not_in(view.excluded_skus))
    return or_(own, and_(*shared))


def orderable_now(now: datetime) -> ColumnElement[bool]:
    return and_(
        ItemRow.status == ItemStatus.ACTIVE.value,
        or_(ItemRow.available_from.is_(None), ItemRow.available_from <= now),
        or_(ItemRow.available_until.is_(None), ItemRow.available_until > now),
    )


def in_stock() -> ColumnElement[bool]:
    return or_(ItemRow.unlimited, ItemRow.on_hand - ItemRow.reserved > 0)


def to_item(row: ItemRow, codes_available: int = 0) -> Item:
    draft = ItemDraft(
        sku=row.sku,
        title=row.title,
        type=ItemType(row.item_type),
        price_points=row.price_points,
        description=row.description,
        category=row.category,
        image_urls=tuple(row.image_urls),
        available_from=row.available_from,
        available_until=row.available_until,
        max_per_member=row.max_per_member,
        shipping_fee_points=row.shipping_fee_points,
        low_stock_threshold=row.low_stock_threshold,
        status=ItemStatus(row.status),
    )
    stock = StockLevel(
        unlimited=row.unlimited,
        on_hand=row.on_hand,
        reserved=row.reserved,
        codes_available=codes_available,
    )
    return Item(row.item_id, row.program_id, draft, stock, row.created_at, row.updated_at)


async def find_visible(
    session: AsyncSession, view: CatalogView, sku: str, *, for_update: bool = False
) -> ItemRow | None:
    query = select(ItemRow).where(visible(view), ItemRow.sku == sku)
    if for_update:
        query = query.with_for_update(of=ItemRow)
    return (await session.scalars(query)).first()


async def find_own(
    session: AsyncSession, owner: str, sku: str, *, for_update: bool = False
) -> ItemRow | None:
    query = select(ItemRow).where(ItemRow.program_id == owner, ItemRow.sku == sku)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def find_own_many(session: AsyncSession, owner: str, skus: Sequence[str]) -> list[ItemRow]:
    """Rows of `owner` with these SKUs, locked in item id order (so importers never deadlock)."""
    if not skus:
        return []
    query = (
        select(ItemRow)
        .where(ItemRow.program_id == owner, ItemRow.sku.in_(skus))
        .order_by(ItemRow.item_id)
        .with_for_update()
    )
    return list((await session.scalars(query)).all())


async def lock_visible(
    session: AsyncSession, view: CatalogView, skus: Sequence[str]
) -> dict[str, ItemRow]:
    """The visible items with these SKUs, locked in item id order.

    Every transaction that changes stock locks its items in this one order, so two orders for
    overlapping items queue behind each other instead of deadlocking. Under READ COMMITTED a
    waiter re-reads the row once the lock is granted, so it sees the stock the winner left.
    """
    query = (
        select(ItemRow)
        .where(visible(view), ItemRow.sku.in_(skus))
        .order_by(ItemRow.item_id)
        .with_for_update(of=ItemRow)
    )
    return {row.sku: row for row in (await session.scalars(query)).all()}


async def codes_available(session: AsyncSession, item_ids: Sequence[str]) -> dict[str, int]:
    if not item_ids:
        return {}
    rows = await session.execute(
        select(GiftCodeRow.item_id, func.count())
        .where(GiftCodeRow.item_id.in_(item_ids), GiftCodeRow.status == "available")
        .group_by(GiftCodeRow.item_id)
    )
    return {item_id: int(count) for item_id, count in rows}


async def with_codes(session: AsyncSession, rows: Sequence[ItemRow]) -> list[Item]:
    egift = [r.item_id for r in rows if r.item_type == ItemType.EGIFT.value]
    counts = await codes_available(session, egift)
    return [to_item(row, counts.get(row.item_id, 0)) for row in rows]


async def change_stock(
    session: AsyncSession, item_id: str, *, on_hand: int = 0, reserved: int = 0
) -> None:
    await session.execute(
        update(ItemRow)
        .where(ItemRow.item_id == item_id)
        .values(on_hand=ItemRow.on_hand + on_hand, reserved=ItemRow.reserved + reserved)
    )
