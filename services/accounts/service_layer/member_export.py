"""Bulk member export: the member CSV (import columns plus account_id, status, tier_id,
available and held), streamed from a server-side cursor a partition at a time (`yield_per`),
so memory stays flat whatever the number of members.

Each partition's identifiers, groups and balances are read with one `= ANY(ids)` query each,
rather than correlated subqueries: those degrade to a scan per member when the planner's
statistics lag behind a large import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from services.accounts.adapters.member_queries import MemberFilter, group_ids_by_member
from services.accounts.adapters.orm import AccountRow, IdentifierRow, MemberRow
from services.accounts.adapters.sql_lists import any_of
from services.accounts.domain.member_csv import SEPARATOR, export_header, write_rows

PARTITION = 1000


async def _identifiers(
    session: AsyncSession, program_id: str, member_ids: Sequence[str]
) -> dict[str, str]:
    cells: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(IdentifierRow.member_id, IdentifierRow.kind, IdentifierRow.value)
        .where(IdentifierRow.program_id == program_id, any_of(IdentifierRow.member_id, member_ids))
        .order_by(IdentifierRow.kind, IdentifierRow.value)
    )
    for member_id, kind, value in rows:
        cells[member_id].append(f"{kind}:{value}")
    return {member_id: SEPARATOR.join(items) for member_id, items in cells.items()}


async def _balances(
    session: AsyncSession, program_id: str, member_ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    rows = await session.execute(
        select(AccountRow.account_id, AccountRow.available, AccountRow.held).where(
            AccountRow.program_id == program_id, any_of(AccountRow.account_id, member_ids)
        )
    )
    return {account_id: (available, held) for account_id, available, held in rows}


async def export_members(
    uow_factory: Callable[[], UnitOfWork], program_id: str, where: MemberFilter
) -> AsyncIterator[bytes]:
    """CSV chunks: the header row first, then one chunk per partition of members. One
    REPEATABLE READ transaction, so the export is one consistent snapshot."""
    m = MemberRow
    conditions = where.conditions(program_id)
    async with uow_factory() as uow:
        s = uow.session
        await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        keys = sorted(
            await s.scalars(
                select(func.jsonb_object_keys(m.attributes)).where(*conditions).distinct()
            )
        )
        yield write_rows([export_header(keys)])
        query = (
            select(
                m.member_id,
                m.external_ref,
                m.display_name,
                m.email,
                m.phone,
                m.birth_date,
                m.attributes,
                m.status,
                m.tier_id,
            )
            .where(*conditions)
            .order_by(m.joined_at, m.member_id)
            .execution_options(yield_per=PARTITION)
        )
        result = await s.stream(query)
        async for partition in result.partitions():
            ids = [row.member_id for row in partition]
            identifiers = await _identifiers(s, program_id, ids)
            groups = await group_ids_by_member(s, program_id, ids)
            balances = await _balances(s, program_id, ids)
            out: list[list[Any]] = []
            for row in partition:
                attributes = row.attributes or {}
                available, held = balances.get(row.member_id, (0, 0))
                out.append(
                    [
                        row.external_ref,
                        row.display_name,
                        row.email,
                        row.phone,
                        row.birth_date.isoformat() if row.birth_date else "",
                        SEPARATOR.join(groups.get(row.member_id, [])),
                        identifiers.get(row.member_id, ""),
                        *(attributes.get(k, "") for k in keys),
                        row.member_id,
                        row.status,
                        row.tier_id,
                        available,
                        held,
                    ]
                )
            yield write_rows(out)
