"""Members ask for items; admins add or decline them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import NotFound
from services.catalog.adapters import items_repository as items_repo
from services.catalog.adapters import requests_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.adapters.messages import item_request_to_proto
from services.catalog.domain.item_requests import (
    ItemRequest,
    NewItemRequest,
    RequestStatus,
    Resolution,
    check_open,
)
from services.catalog.domain.paging import encode_token, page_request, query_hash
from services.catalog.service_layer.items import item_not_found
from tamaru.catalog.v1 import events_pb2


async def request_item(
    uow: UnitOfWork, view: CatalogView, new: NewItemRequest, now: datetime
) -> ItemRequest:
    if new.sku:
        row = await items_repo.find_visible(uow.session, view, new.sku)
        if row is None:
            raise item_not_found(new.sku)
        if not new.title:
            new = NewItemRequest(new.member_id, new.sku, row.title, new.note)
    request = await repo.insert_request(uow.session, view.program_id, new_id(), new, now)
    await uow.emit(
        view.program_id,
        "item_requested",
        events_pb2.ItemRequested(request=item_request_to_proto(request)),
        aggregate_id=request.request_id,
    )
    return request


async def resolve_request(
    uow: UnitOfWork, view: CatalogView, resolution: Resolution, now: datetime
) -> ItemRequest:
    if (
        resolution.status is RequestStatus.ADDED
        and await items_repo.find_visible(uow.session, view, resolution.resolved_sku) is None
    ):
        raise item_not_found(resolution.resolved_sku, "resolved_sku")
    resolved = await repo.resolve(uow.session, view.program_id, resolution, now)
    if resolved is None:
        current = await repo.find(uow.session, view.program_id, resolution.request_id)
        if current is None:
            raise NotFound(
                f"no item request {resolution.request_id!r} in this program",
                reason="REQUEST_NOT_FOUND",
                field="request_id",
            )
        check_open(RequestStatus(current.status), resolution.request_id)
        raise AssertionError("unreachable: an open request always resolves")
    return resolved


async def list_requests(
    session: AsyncSession,
    program_id: str,
    *,
    member_id: str,
    status: RequestStatus | None,
    page_size: int,
    page_token: str,
) -> tuple[list[ItemRequest], str]:
    fingerprint = query_hash(program_id, member_id, status)
    page = page_request(page_size, page_token, fingerprint)
    rows = await repo.list_requests(
        session,
        program_id,
        member_id=member_id,
        status=status,
        after=page.after,
        limit=page.size + 1,
    )
    more = len(rows) > page.size
    rows = rows[: page.size]
    token = ""
    if more and rows:
        token = encode_token(fingerprint, [rows[-1].created_at.isoformat(), rows[-1].request_id])
    return [repo.to_request(row) for row in rows], token
