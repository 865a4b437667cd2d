"""Lotteries and their entries in SQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import NotFound
from services.redeem.adapters.orm import LotteryEntryRow, LotteryRow


class LotteryRepository:
    def __init__(self, session: AsyncSession, program_id: str) -> None:
        self.session = session
        self.program_id = program_id

    async def get(self, lottery_id: str, *, for_update: bool = False) -> LotteryRow:
        query = select(LotteryRow).where(
            LotteryRow.lottery_id == lottery_id, LotteryRow.program_id == self.program_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"no lottery {lottery_id!r}", reason="LOTTERY_NOT_FOUND", field="lottery_id"
            )
        return row

    async def all(self, status: str | None) -> list[LotteryRow]:
        query = select(LotteryRow).where(LotteryRow.program_id == self.program_id)
        if status is not None:
            query = query.where(LotteryRow.status == status)
        return list(
            (await self.session.execute(query.order_by(LotteryRow.created_at.desc()))).scalars()
        )

    async def entry_counts(self, lottery_ids: list[str]) -> dict[str, int]:
        rows = await self.session.execute(
            select(LotteryEntryRow.lottery_id, func.count())
            .where(LotteryEntryRow.lottery_id.in_(lottery_ids))
            .group_by(LotteryEntryRow.lottery_id)
        )
        return {lottery_id: int(count) for lottery_id, count in rows.all()}

    async def member_entries(self, lottery_id: str, member_id: str) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                LotteryEntryRow.lottery_id == lottery_id, LotteryEntryRow.member_id == member_id
            )
        )
        return int(count or 0)

    async def entries(self, lottery_id: str) -> list[LotteryEntryRow]:
        rows = await self.session.execute(
            select(LotteryEntryRow)
            .where(LotteryEntryRow.lottery_id == lottery_id)
            .order_by(LotteryEntryRow.entry_id)
        )
        return list(rows.scalars())
