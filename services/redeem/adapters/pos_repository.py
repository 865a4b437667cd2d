"""POS discounts in SQL (one per sale per program)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import NotFound
from services.redeem.adapters.orm import PosDiscountRow


class PosRepository:
    def __init__(self, session: AsyncSession, program_id: str) -> None:
        self.session = session
        self.program_id = program_id

    async def record(
        self, sale_id: str, store_id: str, member_id: str, points: int, transaction_id: str
    ) -> tuple[PosDiscountRow, bool]:
        """Store the discount; a retry finds the row the first attempt stored (False)."""
        inserted = await self.session.execute(
            insert(PosDiscountRow)
            .values(
                discount_id=uuid.uuid4().hex,
                program_id=self.program_id,
                sale_id=sale_id,
                store_id=store_id,
                member_id=member_id,
                points=points,
                transaction_id=transaction_id,
                void_transaction_id="",
            )
            .on_conflict_do_nothing()
            .returning(PosDiscountRow.discount_id)
        )
        fresh = inserted.scalar_one_or_none() is not None
        return await self.by_sale(sale_id, for_update=False), fresh

    async def by_sale(self, sale_id: str, *, for_update: bool) -> PosDiscountRow:
        query = select(PosDiscountRow).where(
            PosDiscountRow.program_id == self.program_id, PosDiscountRow.sale_id == sale_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"no points discount for sale {sale_id!r}",
                reason="POS_DISCOUNT_NOT_FOUND",
                field="sale_id",
            )
        return row

    async def mark_voided(self, row: PosDiscountRow, transaction_id: str, at: datetime) -> None:
        row.void_transaction_id = transaction_id
        row.voided_at = at
        await self.session.flush()
