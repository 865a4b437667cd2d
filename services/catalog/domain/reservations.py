"""Reserving stock for an order: all lines or none, priced when reserved.

A reservation is open until it is committed (the units leave the stock) or released (they go
back); both are terminal, and an open reservation past its expiry is released by the sweeper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from runtime.errors import FailedPrecondition, InvalidArgument
from services.catalog.domain.items import Item, ItemType, require_sku

MAX_LINES = 100
MAX_QUANTITY = 1000
MAX_ID = 128
DEFAULT_TTL = timedelta(seconds=900)
MAX_TTL_SECONDS = 86_400
MAX_REASON = 200
EXPIRED_REASON = "expired"


class ReservationStatus(StrEnum):
    OPEN = "open"
    COMMITTED = "committed"
    RELEASED = "released"
    RETURNED = "returned"  # committed, then the order was cancelled before shipment


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReserveStock:
    order_id: str
    member_id: str
    lines: tuple[LineRequest, ...]
    ttl: timedelta


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_no: int
    item_id: str
    sku: str
    title: str
    type: ItemType
    quantity: int
    unit_price_points: int
    category: str = ""  # the item's catalog category, for the sponsor's reports

    @property
    def line_points(self) -> int:
        return self.unit_price_points * self.quantity


def require_id(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > MAX_ID:
        raise InvalidArgument(f"{field} is longer than {MAX_ID} characters", field=field)
    return value


def validate_lines(lines: Sequence[LineRequest], prefix: str = "lines") -> tuple[LineRequest, ...]:
    if not lines:
        raise InvalidArgument("at least one line is required", field=prefix)
    if len(lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_LINES} lines", field=prefix)
    seen: dict[str, int] = {}
    out = []
    for index, line in enumerate(lines):
        sku = require_sku(line.sku, f"{prefix}[{index}].sku")
        if sku in seen:
            raise InvalidArgument(
                f"sku {sku} is listed twice (first at {prefix}[{seen[sku]}]): add the quantities",
                field=f"{prefix}[{index}].sku",
            )
        seen[sku] = index
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidArgument(
                f"quantity must be between 1 and {MAX_QUANTITY}",
                field=f"{prefix}[{index}].quantity",
            )
        out.append(LineRequest(sku, line.quantity))
    return tuple(out)


def validate_reserve(
    order_id: str, member_id: str, lines: Sequence[LineRequest], ttl_seconds: int
) -> ReserveStock:
    if ttl_seconds < 0 or ttl_seconds > MAX_TTL_SECONDS:
        raise InvalidArgument(
            f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS} (0 for the default "
            f"{int(DEFAULT_TTL.total_seconds())})",
            field="ttl_seconds",
        )
    return ReserveStock(
        order_id=require_id(order_id, "order_id"),
        member_id=require_id(member_id, "member_id"),
        lines=validate_lines(lines),
        ttl=timedelta(seconds=ttl_seconds) if ttl_seconds else DEFAULT_TTL,
    )


def price_line(
    index: int, line: LineRequest, item: Item, member_already: int, now: datetime
) -> PricedLine:
    """The line priced, or the reason this item cannot be reserved (naming the line)."""
    if not item.available_at(now):
        raise FailedPrecondition(
            f"{item.sku} cannot be ordered now (inactive or outside its availability window)",
            reason="NOT_AVAILABLE",
            field=f"lines[{index}].sku",
        )
    limit = item.draft.max_per_member
    if limit and member_already + line.quantity > limit:
        raise FailedPrecondition(
            f"{item.sku}: a member may order at most {limit} in total (already {member_already})",
            reason="MEMBER_LIMIT_EXCEEDED",
            field=f"lines[{index}].quantity",
        )
    if not item.stock.can_supply(line.quantity):
        raise FailedPrecondition(
            f"{item.sku} is out of stock ({item.stock.available} left, {line.quantity} asked)",
            reason="OUT_OF_STOCK",
            field=f"lines[{index}].sku",
        )
    return PricedLine(
        line_no=index,
        item_id=item.item_id,
        sku=item.sku,
        title=item.draft.title,
        type=item.type,
        quantity=line.quantity,
        unit_price_points=item.draft.price_points,
        category=item.draft.category,
    )


def settle_refusal(status: ReservationStatus, reservation_id: str, wanted: str) -> Exception:
    """Why a settled reservation cannot be `wanted` (committed/released) again."""
    return FailedPrecondition(
        f"reservation {reservation_id} is already {status.value}; it cannot be {wanted}",
        reason="RESERVATION_SETTLED",
        field="reservation_id",
    )


def return_refusal(status: ReservationStatus, reservation_id: str) -> Exception:
    """Why a reservation that is not committed cannot be returned."""
    if status is ReservationStatus.RETURNED:
        return settle_refusal(status, reservation_id, "returned")
    return FailedPrecondition(
        f"reservation {reservation_id} is {status.value}, not committed: only committed units "
        "can be returned (release an open reservation instead)",
        reason="RESERVATION_NOT_COMMITTED",
        field="reservation_id",
    )


def validate_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason is longer than {MAX_REASON} characters", field="reason")
    return reason


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    program_id: str
    order_id: str
    member_id: str
    status: ReservationStatus
    lines: tuple[PricedLine, ...]
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None = None
    release_reason: str = ""
    returned_at: datetime | None = None

    @property
    def total_points(self) -> int:
        return sum(line.line_points for line in self.lines)
