"""Recommendations for a member, and recording what members redeemed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from services.catalog.adapters import items_repository as items_repo
from services.catalog.adapters import recommendations_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.adapters.orm import ItemRow
from services.catalog.domain.items import Item
from services.catalog.domain.recommendations import Candidate, Reason, RecordRedemption, merge

# Tastes change: only the last year of redemptions counts.
WINDOW = timedelta(days=365)


async def record_redemption(uow: UnitOfWork, program_id: str, cmd: RecordRedemption) -> None:
    await repo.record(uow.session, program_id, cmd)


async def recommend(
    session: AsyncSession,
    view: CatalogView,
    *,
    member_id: str,
    group_id: str,
    tier_id: str,
    limit: int,
    now: datetime,
) -> list[tuple[Item, Candidate]]:
    program = view.program_id
    since = now - WINDOW
    # Fetch extra candidates: some are no longer orderable, out of stock or excluded.
    wanted = limit * 3

    async def popular(reason: Reason, where: ColumnElement[bool] | None = None) -> list[Candidate]:
        return await repo.popular(
            session, program, reason, since=since, limit=wanted, member_id=member_id, where=where
        )

    sources: list[list[Candidate]] = [
        await repo.also_redeemed(session, program, member_id, since=since, limit=wanted)
    ]
    if group_id:
        sources.append(await popular(Reason.POPULAR_IN_GROUP, repo.in_group(group_id)))
    if tier_id:
        sources.append(await popular(Reason.POPULAR_IN_TIER, repo.in_tier(tier_id)))
    sources.append(await popular(Reason.POPULAR))
    orderable = await _orderable(session, view, {c.sku for s in sources for c in s}, now)
    sources = [[c for c in source if c.sku in orderable] for source in sources]
    newest = await _newest(session, view, wanted, now)
    sources.append([Candidate(item.sku, Reason.NEW, 0) for item in newest])
    mine = await repo.skus_of_member(session, program, member_id)
    chosen = merge(sources, exclude=mine, limit=limit)
    items = {**orderable, **{item.sku: item for item in newest}}
    return [(items[c.sku], c) for c in chosen]


async def _orderable(
    session: AsyncSession, view: CatalogView, skus: set[str], now: datetime
) -> dict[str, Item]:
    if not skus:
        return {}
    rows = await session.scalars(
        select(ItemRow).where(
            items_repo.visible(view),
            items_repo.orderable_now(now),
            items_repo.in_stock(),
            ItemRow.sku.in_(skus),
        )
    )
    return {item.sku: item for item in await items_repo.with_codes(session, list(rows.all()))}


async def _newest(
    session: AsyncSession, view: CatalogView, limit: int, now: datetime
) -> list[Item]:
    rows = await session.scalars(
        select(ItemRow)
        .where(items_repo.visible(view), items_repo.orderable_now(now), items_repo.in_stock())
        .order_by(ItemRow.created_at.desc(), ItemRow.item_id)
        .limit(limit)
    )
    return await items_repo.with_codes(session, list(rows.all()))
