"""Orders: what a member asked for, what it cost, and where its saga stands.

An order is also the saga's persisted state: each step's outcome (reservation, hold, capture,
authorisation, codes) is a field here, written in the same transaction as the step's log row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from runtime.errors import InvalidArgument

MAX_LINES = 50
MAX_QUANTITY = 1000
MAX_TEXT = 200
SKU_PATTERN = re.compile(r"^[A-Za-z0-9._/-]{1,64}$")
PHONE_PATTERN = re.compile(r"^[0-9+\-]{0,20}$")


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class OrderKind(StrEnum):
    PURCHASE = "purchase"
    PRIZE = "prize"


class SagaPhase(StrEnum):
    """Which way the saga is moving; DONE is terminal (the order is then confirmed, failed or
    cancelled, and any later change is a plain state change, not a saga)."""

    FORWARD = "forward"
    COMPENSATING = "compensating"
    CANCELLING = "cancelling"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    title: str
    item_type: int  # tamaru.catalog.v1.ItemType value, kept as catalog priced it
    quantity: int
    unit_price_points: int
    category: str = ""  # the catalog's category of the item ("" for none, or older orders)

    @property
    def line_points(self) -> int:
        return self.unit_price_points * self.quantity


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    postal_code: str
    prefecture: str
    address_line1: str
    address_line2: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class GiftCode:
    sku: str
    code: str


@dataclass(frozen=True)
class Order:
    order_id: str
    program_id: str
    member_id: str
    kind: OrderKind
    status: OrderStatus
    idempotency_key: str
    lines: tuple[LineRequest, ...]
    address: Address | None
    payment_token: str
    shipping_fee_points: int
    created_at: datetime
    updated_at: datetime
    lottery_id: str = ""
    # Filled in by the saga's steps.
    priced_lines: tuple[PricedLine, ...] = ()
    items_points: int = 0
    total_points: int = 0
    points_paid: int | None = None  # None until the payment split is decided
    yen_paid: int = 0
    reservation_id: str = ""
    hold_id: str = ""
    capture_tx_id: str = ""
    authorization_id: str = ""
    codes: tuple[GiftCode, ...] = ()
    failure_reason: str = ""
    failure_message: str = ""
    failure_code: int = 0  # the gRPC status code a retried PlaceOrder answers with
    failure_field: str = ""
    # Saga bookkeeping.
    phase: SagaPhase = SagaPhase.FORWARD
    completed: tuple[str, ...] = ()
    undone: tuple[str, ...] = ()
    in_doubt: str = ""
    attempts: int = 0
    # After the saga.
    carrier: str = ""
    tracking_number: str = ""
    cancel_reason: str = ""
    refund_tx_id: str = ""
    confirmed_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None

    def step_key(self, step: str) -> str:
        """The idempotency key of one remote step: a re-run after a crash has one effect."""
        return f"redeem:{self.order_id}:{step}"

    @property
    def payment_reference(self) -> str:
        """The merchant reference the gateway knows this order's card payment by."""
        return f"{self.program_id}-{self.order_id}"


def validate_lines(lines: Sequence[LineRequest]) -> tuple[LineRequest, ...]:
    if not lines:
        raise InvalidArgument("at least one line is required", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_LINES} lines per order", field="lines")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if not SKU_PATTERN.match(line.sku):
            raise InvalidArgument(
                "sku must be 1-64 letters, digits or . _ / -", field=f"lines[{index}].sku"
            )
        if line.sku in seen:
            raise InvalidArgument(
                f"sku {line.sku} is listed twice: add the quantities",
                field=f"lines[{index}].sku",
            )
        seen.add(line.sku)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidArgument(
                f"quantity must be between 1 and {MAX_QUANTITY}",
                field=f"lines[{index}].quantity",
            )
    return tuple(lines)


def validate_address(address: Address, prefix: str = "shipping_address") -> Address:
    for name, value, required in (
        ("name", address.name, True),
        ("address_line1", address.address_line1, True),
        ("address_line2", address.address_line2, False),
    ):
        if required and not value.strip():
            raise InvalidArgument(f"{name} is required", field=f"{prefix}.{name}")
        if len(value) > MAX_TEXT:
            raise InvalidArgument(
                f"{name} is longer than {MAX_TEXT} characters", field=f"{prefix}.{name}"
            )
    if not address.prefecture.strip():
        raise InvalidArgument(
            "prefecture is required (JIS code 01-47 or JP-01-JP-47)", field=f"{prefix}.prefecture"
        )
    if not PHONE_PATTERN.match(address.phone):
        raise InvalidArgument(
            "phone may hold digits, + and - only (at most 20)", field=f"{prefix}.phone"
        )
    return address


def check_text(value: str, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if required and not value.strip():
        raise InvalidArgument(f"{name} is required", field=name)
    if len(value) > limit:
        raise InvalidArgument(f"{name} is longer than {limit} characters", field=name)
    return value
