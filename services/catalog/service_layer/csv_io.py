"""CSV import (all rows or none) and export (streamed in batches) of a program's own items."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import select

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition
from services.catalog.adapters import items_repository as repo
from services.catalog.adapters.orm import ItemRow
from services.catalog.domain.csv_format import export_rows, parse_csv
from services.catalog.domain.items import ItemStatus
from services.catalog.service_layer.items import apply_update, create_item

EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


async def import_items(uow: UnitOfWork, owner: str, data: bytes, key_id: str = "") -> ImportSummary:
    rows = parse_csv(data)
    existing = {
        row.sku: row
        for row in await repo.find_own_many(uow.session, owner, [r.draft.sku for r in rows])
    }
    created = updated = unchanged = 0
    for row in rows:
        prefix = f"csv[{row.line}]"
        current = existing.get(row.draft.sku)
        if current is None:
            await create_item(
                uow,
                owner,
                row.draft,
                initial_stock=row.initial_stock,
                unlimited=row.unlimited_stock,
                key_id=key_id,
                prefix=prefix,
            )
            created += 1
            continue
        if current.status == ItemStatus.ARCHIVED.value:
            raise FailedPrecondition(
                f"{current.sku} is archived (deleted): use a new sku",
                reason="ITEM_ARCHIVED",
                field=f"{prefix}.sku",
            )
        _, changed = await apply_update(uow, current, row.draft, prefix=prefix)
        if changed:
            updated += 1
        else:
            unchanged += 1
    return ImportSummary(created, updated, unchanged)


async def export_items(uow_factory: Callable[[], UnitOfWork], owner: str) -> AsyncIterator[str]:
    """CSV text in pieces; each batch is read in its own short transaction."""
    header_sent = False
    after = ""
    while True:
        async with uow_factory() as uow:
            rows = (
                await uow.session.scalars(
                    select(ItemRow)
                    .where(
                        ItemRow.program_id == owner,
                        ItemRow.status != ItemStatus.ARCHIVED.value,
                        ItemRow.sku > after,
                    )
                    .order_by(ItemRow.sku)
                    .limit(EXPORT_BATCH)
                )
            ).all()
            items = await repo.with_codes(uow.session, list(rows))
        pieces = export_rows(items)
        header = next(pieces)
        if not header_sent:
            yield header
            header_sent = True
        chunk = "".join(pieces)
        if chunk:
            yield chunk
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1].sku
