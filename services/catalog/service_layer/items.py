"""Item administration: create, update, archive, stock adjustments, and reads."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.catalog.adapters import items_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.adapters.messages import item_to_proto, stock_to_proto
from services.catalog.adapters.orm import ItemRow, StockMovementRow
from services.catalog.domain.items import (
    MAX_STOCK,
    Item,
    ItemDraft,
    ItemStatus,
    StockLevel,
    check_type_unchanged,
    validate_draft,
    validate_initial_stock,
)
from services.catalog.domain.reservations import validate_reason
from services.catalog.domain.text_search import search_document
from tamaru.catalog.v1 import events_pb2


def item_not_found(sku: str, field: str = "sku") -> NotFound:
    return NotFound(
        f"no item with sku {sku!r} in this catalog", reason="ITEM_NOT_FOUND", field=field
    )


def draft_columns(draft: ItemDraft) -> dict[str, object]:
    assert draft.type is not None
    return {
        "sku": draft.sku,
        "title": draft.title,
        "description": draft.description,
        "category": draft.category,
        "item_type": draft.type.value,
        "price_points": draft.price_points,
        "image_urls": list(draft.image_urls),
        "available_from": draft.available_from,
        "available_until": draft.available_until,
        "max_per_member": draft.max_per_member,
        "shipping_fee_points": draft.shipping_fee_points,
        "low_stock_threshold": draft.low_stock_threshold,
        "status": draft.status.value,
        "search_text": search_document(draft.title, draft.sku, draft.category, draft.description),
    }


async def create_item(
    uow: UnitOfWork,
    owner: str,
    draft: ItemDraft,
    *,
    initial_stock: int = 0,
    unlimited: bool = False,
    key_id: str = "",
    prefix: str = "item",
) -> Item:
    draft = validate_draft(draft, prefix)
    assert draft.type is not None
    validate_initial_stock(draft.type, initial_stock, unlimited)
    session = uow.session
    if await repo.find_own(session, owner, draft.sku) is not None:
        raise AlreadyExists(
            f"sku {draft.sku} already exists: update it instead",
            reason="SKU_EXISTS",
            field=f"{prefix}.sku",
        )
    item_id = new_id()
    now = datetime.now(UTC)
    try:
        async with session.begin_nested():
            await session.execute(
                insert(ItemRow).values(
                    item_id=item_id,
                    program_id=owner,
                    unlimited=unlimited,
                    on_hand=initial_stock,
                    reserved=0,
                    created_at=now,
                    updated_at=now,
                    **draft_columns(draft),
                )
            )
    except IntegrityError:
        # Created concurrently by another request since the check above.
        raise AlreadyExists(
            f"sku {draft.sku} already exists: update it instead",
            reason="SKU_EXISTS",
            field=f"{prefix}.sku",
        ) from None
    if initial_stock:
        await record_movement(session, owner, item_id, initial_stock, "initial stock", key_id)
    item = await load_item(session, item_id)
    await uow.emit(
        owner,
        "item_created",
        events_pb2.ItemCreated(item=item_to_proto(item)),
        aggregate_id=item_id,
    )
    return item


async def update_item(
    uow: UnitOfWork, owner: str, draft: ItemDraft, *, prefix: str = "item"
) -> tuple[Item, bool]:
    """The item after the update, and whether anything changed."""
    draft = validate_draft(draft, prefix)
    row = await repo.find_own(uow.session, owner, draft.sku, for_update=True)
    if row is None:
        raise item_not_found(draft.sku, f"{prefix}.sku")
    return await apply_update(uow, row, draft, prefix=prefix)


async def apply_update(
    uow: UnitOfWork, row: ItemRow, draft: ItemDraft, *, prefix: str = "item"
) -> tuple[Item, bool]:
    current = repo.to_item(row)
    if current.draft.status is ItemStatus.ARCHIVED:
        raise FailedPrecondition(
            f"{row.sku} is archived (deleted): use a new sku",
            reason="ITEM_ARCHIVED",
            field=f"{prefix}.sku",
        )
    check_type_unchanged(current.type, draft.type, f"{prefix}.type")
    if current.draft == draft:
        return await load_item(uow.session, row.item_id), False
    await uow.session.execute(
        update(ItemRow)
        .where(ItemRow.item_id == row.item_id)
        .values(updated_at=datetime.now(UTC), **draft_columns(draft))
    )
    item = await load_item(uow.session, row.item_id)
    await uow.emit(
        row.program_id,
        "item_updated",
        events_pb2.ItemUpdated(item=item_to_proto(item)),
        aggregate_id=row.item_id,
    )
    return item, True


async def archive_item(uow: UnitOfWork, owner: str, sku: str) -> Item:
    row = await repo.find_own(uow.session, owner, sku, for_update=True)
    if row is None:
        raise item_not_found(sku)
    if row.status != ItemStatus.ARCHIVED.value:
        await uow.session.execute(
            update(ItemRow)
            .where(ItemRow.item_id == row.item_id)
            .values(status=ItemStatus.ARCHIVED.value, updated_at=datetime.now(UTC))
        )
        item = await load_item(uow.session, row.item_id)
        await uow.emit(
            owner,
            "item_updated",
            events_pb2.ItemUpdated(item=item_to_proto(item)),
            aggregate_id=row.item_id,
        )
        return item
    return await load_item(uow.session, row.item_id)


async def adjust_stock(
    uow: UnitOfWork, owner: str, sku: str, delta: int, reason: str, key_id: str = ""
) -> StockLevel:
    reason = validate_reason(reason)
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise InvalidArgument(
            f"delta must be non-zero and at most {MAX_STOCK} either way", field="delta"
        )
    if not reason:
        raise InvalidArgument("reason is required: say why the stock changes", field="reason")
    row = await repo.find_own(uow.session, owner, sku, for_update=True)
    if row is None:
        raise item_not_found(sku)
    item = repo.to_item(row)
    if item.type.uses_codes:
        raise FailedPrecondition(
            f"{sku} is an e-gift item: its stock is its code pool, add codes with UploadCodes",
            reason="STOCK_IS_CODE_POOL",
            field="sku",
        )
    if item.stock.unlimited:
        raise FailedPrecondition(
            f"{sku} has unlimited stock", reason="STOCK_UNLIMITED", field="sku"
        )
    if row.on_hand + delta < row.reserved:
        raise FailedPrecondition(
            f"{sku} has {row.on_hand} on hand of which {row.reserved} reserved: it cannot go "
            f"down by {-delta}",
            reason="STOCK_BELOW_RESERVED",
            field="delta",
        )
    if row.on_hand + delta > MAX_STOCK:
        raise InvalidArgument(f"stock would exceed {MAX_STOCK}", field="delta")
    before = item.stock
    await repo.change_stock(uow.session, row.item_id, on_hand=delta)
    await record_movement(uow.session, owner, row.item_id, delta, reason, key_id)
    after = await load_item(uow.session, row.item_id)
    await announce_low_stock(uow, after, before)
    return after.stock


async def record_movement(
    session: AsyncSession, owner: str, item_id: str, delta: int, reason: str, key_id: str
) -> None:
    await session.execute(
        insert(StockMovementRow).values(
            program_id=owner, item_id=item_id, delta=delta, reason=reason, key_id=key_id
        )
    )


async def announce_low_stock(uow: UnitOfWork, item: Item, before: StockLevel) -> None:
    """stock_low, once each time the available stock falls below the item's threshold."""
    threshold = item.draft.low_stock_threshold
    if item.stock.unlimited or not threshold:
        return
    if before.available >= threshold > item.stock.available:
        await uow.emit(
            item.owner_program,
            "stock_low",
            events_pb2.StockLow(
                stock=stock_to_proto(item.sku, item.stock), low_stock_threshold=threshold
            ),
            aggregate_id=item.item_id,
        )


async def load_item(session: AsyncSession, item_id: str) -> Item:
    row = await session.get(ItemRow, item_id, populate_existing=True)
    assert row is not None
    return (await repo.with_codes(session, [row]))[0]


async def get_item(
    session: AsyncSession,
    view: CatalogView,
    sku: str,
    *,
    include_unavailable: bool,
    now: datetime,
) -> Item:
    row = await repo.find_visible(session, view, sku)
    if row is None:
        raise item_not_found(sku)
    item = (await repo.with_codes(session, [row]))[0]
    if not include_unavailable and not item.available_at(now):
        raise item_not_found(sku)
    return item
