"""Who redeemed what: counts of distinct members per SKU, by group, tier and co-redemption."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, distinct, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.adapters.orm import RedeemedItemRow
from services.catalog.domain.recommendations import Candidate, Reason, RecordRedemption

R = RedeemedItemRow


async def record(session: AsyncSession, program_id: str, redemption: RecordRedemption) -> None:
    await session.execute(
        insert(R).values(
            program_id=program_id,
            member_id=redemption.member_id,
            group_id=redemption.group_id,
            tier_id=redemption.tier_id,
            sku=redemption.sku,
            quantity=redemption.quantity,
        )
    )


async def skus_of_member(session: AsyncSession, program_id: str, member_id: str) -> set[str]:
    rows = await session.scalars(
        select(R.sku).where(R.program_id == program_id, R.member_id == member_id).distinct()
    )
    return set(rows.all())


async def popular(
    session: AsyncSession,
    program_id: str,
    reason: Reason,
    *,
    since: datetime,
    limit: int,
    member_id: str,
    where: ColumnElement[bool] | None = None,
) -> list[Candidate]:
    """SKUs by how many other members redeemed them since `since` (most first)."""
    members = func.count(distinct(R.member_id))
    statement = (
        select(R.sku, members)
        .where(R.program_id == program_id, R.member_id != member_id, R.recorded_at >= since)
        .group_by(R.sku)
        .order_by(members.desc(), R.sku)
        .limit(limit)
    )
    if where is not None:
        statement = statement.where(where)
    rows = await session.execute(statement)
    return [Candidate(sku, reason, int(count)) for sku, count in rows]


async def also_redeemed(
    session: AsyncSession, program_id: str, member_id: str, *, since: datetime, limit: int
) -> list[Candidate]:
    """SKUs redeemed by members who redeemed any SKU this member redeemed."""
    mine = select(R.sku).where(R.program_id == program_id, R.member_id == member_id)
    peers = (
        select(R.member_id)
        .where(R.program_id == program_id, R.member_id != member_id, R.sku.in_(mine))
        .distinct()
    )
    return await popular(
        session,
        program_id,
        Reason.ALSO_REDEEMED,
        since=since,
        limit=limit,
        member_id=member_id,
        where=R.member_id.in_(peers),
    )


def in_group(group_id: str) -> ColumnElement[bool]:
    return R.group_id == group_id


def in_tier(tier_id: str) -> ColumnElement[bool]:
    return R.tier_id == tier_id
