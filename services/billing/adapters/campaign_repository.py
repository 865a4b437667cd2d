"""Earn's purchases and returns as billing keeps them, and the campaign comparison query.
Every query filters on the program."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.billing.adapters.orm import CampaignPurchaseRow, CampaignReturnRow
from services.billing.domain.campaigns import BuyerGroup


class CampaignRepository:
    def __init__(self, session: AsyncSession, program_id: str) -> None:
        self.session = session
        self.program_id = program_id

    async def add_purchase(
        self,
        *,
        purchase_id: str,
        account_id: str,
        occurred_at: datetime,
        amount_yen: int,
        points_earned: int,
        rule_points: dict[str, int],
    ) -> None:
        """Once per purchase id: a second announcement of one purchase changes nothing."""
        await self.session.execute(
            insert(CampaignPurchaseRow)
            .values(
                program_id=self.program_id,
                purchase_id=purchase_id,
                account_id=account_id,
                occurred_at=occurred_at,
                amount_yen=amount_yen,
                points_earned=points_earned,
                rule_points=rule_points,
            )
            .on_conflict_do_nothing()
        )

    async def add_return(
        self,
        *,
        return_id: str,
        purchase_id: str,
        account_id: str,
        occurred_at: datetime,
        returned_yen: int,
        points_reversed: int,
        rule_points_reversed: dict[str, int],
    ) -> None:
        """Once per return id; kept apart from its purchase, so it may arrive first."""
        await self.session.execute(
            insert(CampaignReturnRow)
            .values(
                program_id=self.program_id,
                return_id=return_id,
                purchase_id=purchase_id,
                account_id=account_id,
                occurred_at=occurred_at,
                returned_yen=returned_yen,
                points_reversed=points_reversed,
                rule_points_reversed=rule_points_reversed,
            )
            .on_conflict_do_nothing()
        )

    async def compare(
        self, campaign_id: str, start: datetime | None, end: datetime
    ) -> tuple[int, BuyerGroup, BuyerGroup]:
        """(points the campaign kept, participants, non-participants) over [start, end).

        Per purchase in the window: the yen kept (amount less all its returns) and the
        campaign's points less their share of its returns. Per member: a participant earned
        from the campaign on some purchase in the window; others count only with a purchase
        not returned in full."""
        p, r = CampaignPurchaseRow, CampaignReturnRow
        returns = (
            select(
                func.sum(r.returned_yen).label("yen"),
                func.sum(_points_of(r.rule_points_reversed, campaign_id)).label("points"),
            )
            .where(r.program_id == p.program_id, r.purchase_id == p.purchase_id)
            .lateral("returns")
        )
        earned = _points_of(p.rule_points, campaign_id)
        in_window = [p.program_id == self.program_id, p.occurred_at < end]
        if start is not None:
            in_window.append(p.occurred_at >= start)
        bought = (
            select(
                p.account_id,
                (p.amount_yen - func.coalesce(returns.c.yen, 0)).label("kept_yen"),
                earned.label("earned"),
                (earned - func.coalesce(returns.c.points, 0)).label("kept_points"),
            )
            .select_from(p)
            .outerjoin(returns, true())
            .where(*in_window)
            .cte("bought")
        )
        members = (
            select(
                func.bool_or(bought.c.earned > 0).label("participant"),
                func.count().filter(bought.c.kept_yen > 0).label("purchases"),
                func.sum(bought.c.kept_yen).label("yen"),
                func.sum(bought.c.kept_points).label("points"),
            )
            .group_by(bought.c.account_id)
            .cte("members")
        )
        rows = await self.session.execute(
            select(
                members.c.participant,
                func.count(),
                func.sum(members.c.purchases),
                func.sum(members.c.yen),
                func.sum(members.c.points),
            )
            .where(or_(members.c.participant, members.c.purchases > 0))
            .group_by(members.c.participant)
        )
        points = 0
        groups = {True: BuyerGroup(), False: BuyerGroup()}
        for participant, count, purchases, yen, kept in rows:
            groups[bool(participant)] = BuyerGroup(int(count), int(purchases), int(yen))
            if participant:
                points = int(kept)
        return points, groups[True], groups[False]


def _points_of(
    column: InstrumentedAttribute[dict[str, int]], campaign_id: str
) -> ColumnElement[int]:
    return func.coalesce(column[campaign_id].astext.cast(BigInteger), 0)
