"""Member item requests: insert, list newest first with keyset paging, resolve once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.adapters.orm import ItemRequestRow
from services.catalog.domain.item_requests import (
    ItemRequest,
    NewItemRequest,
    RequestStatus,
    Resolution,
)


def to_request(row: ItemRequestRow) -> ItemRequest:
    return ItemRequest(
        request_id=row.request_id,
        member_id=row.member_id,
        sku=row.sku,
        title=row.title,
        note=row.note,
        status=RequestStatus(row.status),
        resolved_sku=row.resolved_sku,
        resolution_note=row.resolution_note,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


async def insert_request(
    session: AsyncSession, program_id: str, request_id: str, new: NewItemRequest, now: datetime
) -> ItemRequest:
    row = (
        await session.scalars(
            insert(ItemRequestRow)
            .values(
                request_id=request_id,
                program_id=program_id,
                member_id=new.member_id,
                sku=new.sku,
                title=new.title,
                note=new.note,
                status=RequestStatus.OPEN.value,
                created_at=now,
            )
            .returning(ItemRequestRow)
        )
    ).one()
    return to_request(row)


async def find(
    session: AsyncSession, program_id: str, request_id: str, *, for_update: bool = False
) -> ItemRequestRow | None:
    query = select(ItemRequestRow).where(
        ItemRequestRow.program_id == program_id, ItemRequestRow.request_id == request_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def resolve(
    session: AsyncSession, program_id: str, resolution: Resolution, now: datetime
) -> ItemRequest | None:
    row = (
        await session.scalars(
            update(ItemRequestRow)
            .where(
                ItemRequestRow.program_id == program_id,
                ItemRequestRow.request_id == resolution.request_id,
                ItemRequestRow.status == RequestStatus.OPEN.value,
            )
            .values(
                status=resolution.status.value,
                resolved_sku=resolution.resolved_sku,
                resolution_note=resolution.note,
                resolved_at=now,
            )
            .returning(ItemRequestRow)
            .execution_options(populate_existing=True)
        )
    ).first()
    return to_request(row) if row is not None else None


async def list_requests(
    session: AsyncSession,
    program_id: str,
    *,
    member_id: str,
    status: RequestStatus | None,
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[ItemRequestRow]:
    query = select(ItemRequestRow).where(ItemRequestRow.program_id == program_id)
    if member_id:
        query = query.where(ItemRequestRow.member_id == member_id)
    if status is not None:
        query = query.where(ItemRequestRow.status == status.value)
    if after:
        created = datetime.fromisoformat(after[0])
        query = query.where(
            tuple_(ItemRequestRow.created_at, ItemRequestRow.request_id) < tuple_(created, after[1])
        )
    query = query.order_by(ItemRequestRow.created_at.desc(), ItemRequestRow.request_id.desc())
    return list((await session.scalars(query.limit(limit))).all())
