"""E-gift codes: admins upload pools; a committed order draws its codes once and keeps them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import Aborted, FailedPrecondition
from services.catalog.adapters import codes_repository as codes_repo
from services.catalog.adapters import items_repository as items_repo
from services.catalog.adapters import reservations_repository as reservations_repo
from services.catalog.domain.codes import validate_codes
from services.catalog.domain.items import ItemStatus, StockLevel
from services.catalog.domain.reservations import ReservationStatus
from services.catalog.service_layer.items import item_not_found, load_item, record_movement
from services.catalog.service_layer.reservations import reservation_not_found

# How long to wait for codes that concurrent transactions hold locks on (they commit within
# milliseconds, or roll back and free them).
BUSY_RETRIES = 50
BUSY_WAIT = 0.02


@dataclass(frozen=True, slots=True)
class Upload:
    added: int
    skipped: list[str]
    stock: StockLevel


async def upload_codes(
    uow: UnitOfWork, owner: str, sku: str, codes: list[str], key_id: str = ""
) -> Upload:
    codes = validate_codes(codes)
    row = await items_repo.find_own(uow.session, owner, sku, for_update=True)
    if row is None:
        raise item_not_found(sku)
    if row.item_type != "egift":
        raise FailedPrecondition(
            f"{sku} is not an e-gift item: only e-gift items have code pools",
            reason="NOT_AN_EGIFT_ITEM",
            field="sku",
        )
    if row.status == ItemStatus.ARCHIVED.value:
        raise FailedPrecondition(f"{sku} is archived", reason="ITEM_ARCHIVED", field="sku")
    added = await codes_repo.add_codes(uow.session, owner, row.item_id, codes)
    if added:
        # Each code in the pool is one unit on hand: reservations count against the pool.
        await items_repo.change_stock(uow.session, row.item_id, on_hand=len(added))
        await record_movement(uow.session, owner, row.item_id, len(added), "codes uploaded", key_id)
    added_set = set(added)
    item = await load_item(uow.session, row.item_id)
    return Upload(len(added), [c for c in codes if c not in added_set], item.stock)


async def issue_codes(
    uow: UnitOfWork, program_id: str, reservation_id: str, now: datetime
) -> list[tuple[str, str]]:
    """(sku, code) for every e-gift unit of a committed reservation: drawn on the first call,
    the same ones on every later call."""
    session = uow.session
    # The lock makes concurrent calls for one reservation take turns (the second sees the
    # codes the first drew); a committed row cannot change, only be locked.
    reservation = await reservations_repo.find(session, program_id, reservation_id, for_update=True)
    if reservation is None:
        raise reservation_not_found(reservation_id)
    if reservation.status is not ReservationStatus.COMMITTED:
        raise FailedPrecondition(
            f"reservation {reservation_id} is {reservation.status.value}: codes are issued "
            "only for committed reservations",
            reason="RESERVATION_NOT_COMMITTED",
            field="reservation_id",
        )
    sku_of = {line.item_id: line.sku for line in reservation.lines}
    have: dict[str, int] = {}
    for item_id, _ in await codes_repo.issued_codes(session, reservation_id):
        have[item_id] = have.get(item_id, 0) + 1
    for line in await codes_repo.egift_lines(session, reservation_id):
        missing = line.quantity - have.get(line.item_id, 0)
        await _draw(uow, line.item_id, line.sku, missing, reservation_id, now)
    return [
        (sku_of[item_id], code)
        for item_id, code in await codes_repo.issued_codes(session, reservation_id)
    ]


async def _draw(
    uow: UnitOfWork, item_id: str, sku: str, missing: int, reservation_id: str, now: datetime
) -> None:
    for _ in range(BUSY_RETRIES):
        if missing <= 0:
            return
        missing -= await codes_repo.take_codes(uow.session, item_id, missing, reservation_id, now)
        if missing > 0:
            if await codes_repo.any_available(uow.session, item_id) == 0:
                raise FailedPrecondition(
                    f"the code pool of {sku} is empty: upload more codes, then call again",
                    reason="CODES_EXHAUSTED",
                    field="reservation_id",
                )
            await asyncio.sleep(BUSY_WAIT)  # the rest are locked by orders drawing right now
    if missing > 0:
        raise Aborted(
            f"codes of {sku} are busy; retry with the same idempotency key",
            reason="CODES_BUSY",
        )
