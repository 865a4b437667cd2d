"""Stock reservations for orders: reserve (all lines or none), commit, release, expire."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import FailedPrecondition, NotFound
from services.catalog.adapters import items_repository as items_repo
from services.catalog.adapters import reservations_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.adapters.messages import reservation_to_proto
from services.catalog.domain.items import ItemType
from services.catalog.domain.reservations import (
    EXPIRED_REASON,
    Reservation,
    ReservationStatus,
    ReserveStock,
    price_line,
    return_refusal,
    settle_refusal,
)
from services.catalog.service_layer.items import announce_low_stock
from tamaru.catalog.v1 import events_pb2


async def reserve_stock(
    uow: UnitOfWork, view: CatalogView, cmd: ReserveStock, now: datetime
) -> Reservation:
    session = uow.session
    rows = await items_repo.lock_visible(session, view, [line.sku for line in cmd.lines])
    for index, asked in enumerate(cmd.lines):
        if asked.sku not in rows:
            raise NotFound(
                f"no item with sku {asked.sku!r} in this program's catalog",
                reason="ITEM_NOT_FOUND",
                field=f"lines[{index}].sku",
            )
    items = {sku: items_repo.to_item(row) for sku, row in rows.items()}
    limited = [item.item_id for item in items.values() if item.draft.max_per_member]
    # Counted after the item locks are held, so two orders by one member cannot both slip
    # under the limit.
    already = await repo.member_quantities(session, view.program_id, cmd.member_id, limited)
    lines = tuple(
        price_line(index, asked, items[asked.sku], already.get(items[asked.sku].item_id, 0), now)
        for index, asked in enumerate(cmd.lines)
    )
    reservation = Reservation(
        reservation_id=new_id(),
        program_id=view.program_id,
        order_id=cmd.order_id,
        member_id=cmd.member_id,
        status=ReservationStatus.OPEN,
        lines=lines,
        created_at=now,
        expires_at=now + cmd.ttl,
    )
    await repo.insert_reservation(session, reservation)
    taken: Counter[str] = Counter()
    for line in sorted(lines, key=lambda line: line.item_id):
        await items_repo.change_stock(session, line.item_id, reserved=line.quantity)
        taken[line.item_id] += line.quantity
    for line in lines:
        before = items[line.sku]
        # The rows are locked: the stock now is the stock read under the lock plus what this
        # reservation took, with no second read.
        stock = replace(before.stock, reserved=before.stock.reserved + taken[line.item_id])
        await announce_low_stock(uow, replace(before, stock=stock), before.stock)
    await uow.emit(
        view.program_id,
        "stock_reserved",
        events_pb2.StockReserved(reservation=reservation_to_proto(reservation)),
        aggregate_id=reservation.reservation_id,
    )
    return reservation


async def commit_reservation(
    uow: UnitOfWork, program_id: str, reservation_id: str, now: datetime
) -> Reservation:
    session = uow.session
    if not await repo.settle(
        session, program_id, reservation_id, ReservationStatus.COMMITTED, now, unexpired_only=True
    ):
        raise await _why_not_open(uow, program_id, reservation_id, "committed", now)
    reservation = await _load(uow, program_id, reservation_id)
    for line in sorted(reservation.lines, key=lambda line: line.item_id):
        await items_repo.change_stock(
            session, line.item_id, on_hand=-line.quantity, reserved=-line.quantity
        )
    await uow.emit(
        program_id,
        "reservation_committed",
        events_pb2.ReservationCommitted(reservation=reservation_to_proto(reservation)),
        aggregate_id=reservation_id,
    )
    return reservation


async def release_reservation(
    uow: UnitOfWork, program_id: str, reservation_id: str, reason: str, now: datetime
) -> Reservation:
    session = uow.session
    if not await repo.settle(
        session, program_id, reservation_id, ReservationStatus.RELEASED, now, reason=reason
    ):
        raise await _why_not_open(uow, program_id, reservation_id, "released", now)
    reservation = await _load(uow, program_id, reservation_id)
    for line in sorted(reservation.lines, key=lambda line: line.item_id):
        await items_repo.change_stock(session, line.item_id, reserved=-line.quantity)
    await _announce_release(uow, reservation)
    return reservation


async def return_stock(
    uow: UnitOfWork, program_id: str, reservation_id: str, reason: str, now: datetime
) -> Reservation:
    """A confirmed order was cancelled before shipment: its committed units go back on hand
    (an e-gift line's issued codes stay issued: the member may already have used them)."""
    session = uow.session
    if not await repo.mark_returned(session, program_id, reservation_id, now, reason):
        found = await repo.find(session, program_id, reservation_id)
        if found is None:
            raise reservation_not_found(reservation_id)
        raise return_refusal(found.status, reservation_id)
    reservation = await _load(uow, program_id, reservation_id)
    for line in sorted(reservation.lines, key=lambda line: line.item_id):
        if line.type is not ItemType.EGIFT:
            await items_repo.change_stock(session, line.item_id, on_hand=line.quantity)
    await uow.emit(
        program_id,
        "stock_returned",
        events_pb2.StockReturned(reservation=reservation_to_proto(reservation)),
        aggregate_id=reservation_id,
    )
    return reservation


async def release_expired(uow: UnitOfWork, now: datetime, limit: int = 200) -> int:
    """Release up to `limit` reservations whose time ran out; returns how many."""
    session = uow.session
    rows = await repo.claim_expired(session, now, limit)
    if not rows:
        return 0
    ids = [row.reservation_id for row in rows]
    await repo.release_expired_rows(session, ids, now, EXPIRED_REASON)
    lines = await repo.load_lines(session, ids)
    # Give back the stock of the whole batch item by item, in the one lock order.
    per_item: dict[str, int] = defaultdict(int)
    for reservation_lines in lines.values():
        for line in reservation_lines:
            per_item[line.item_id] += line.quantity
    for item_id in sorted(per_item):
        await items_repo.change_stock(session, item_id, reserved=-per_item[item_id])
    for row in rows:
        released = replace(
            repo.to_reservation(row, lines.get(row.reservation_id, ())),
            status=ReservationStatus.RELEASED,
            settled_at=now,
            release_reason=EXPIRED_REASON,
        )
        await _announce_release(uow, released)
    return len(rows)


async def _announce_release(uow: UnitOfWork, reservation: Reservation) -> None:
    await uow.emit(
        reservation.program_id,
        "reservation_released",
        events_pb2.ReservationReleased(reservation=reservation_to_proto(reservation)),
        aggregate_id=reservation.reservation_id,
    )


async def _load(uow: UnitOfWork, program_id: str, reservation_id: str) -> Reservation:
    reservation = await repo.find(uow.session, program_id, reservation_id)
    if reservation is None:
        raise reservation_not_found(reservation_id)
    return reservation


async def _why_not_open(
    uow: UnitOfWork, program_id: str, reservation_id: str, wanted: str, now: datetime
) -> Exception:
    reservation = await repo.find(uow.session, program_id, reservation_id)
    if reservation is None:
        return reservation_not_found(reservation_id)
    if reservation.status is ReservationStatus.OPEN and reservation.expires_at <= now:
        return FailedPrecondition(
            f"reservation {reservation_id} expired at {reservation.expires_at.isoformat()}; "
            "its stock is being released: reserve again",
            reason="RESERVATION_EXPIRED",
            field="reservation_id",
        )
    return settle_refusal(reservation.status, reservation_id, wanted)


def reservation_not_found(reservation_id: str) -> NotFound:
    return NotFound(
        f"no reservation {reservation_id!r} in this program",
        reason="RESERVATION_NOT_FOUND",
        field="reservation_id",
    )
