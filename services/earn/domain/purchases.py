"""What a purchase is, as far as earning goes: validated facts the rules engine reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runtime.errors import InvalidArgument

CHANNELS = ("store", "app", "ecommerce", "b2b", "manufacturer")
MAX_YEN = 1_000_000_000_000
MAX_LINES = 1000


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    amount_yen: int


@dataclass(frozen=True)
class Purchase:
    """A member's purchase (tax-included yen). Lines, when given, add up to the amount."""

    occurred_at: datetime
    channel: str
    store: str
    amount_yen: int
    lines: tuple[Line, ...] = ()
    tier_id: str = ""

    def __post_init__(self) -> None:
        check_purchase(self)


def check_purchase(p: Purchase) -> None:
    if p.occurred_at.tzinfo is None:
        raise InvalidArgument("occurred_at must carry a time zone", field="occurred_at")
    if p.channel not in CHANNELS:
        raise InvalidArgument(
            f"channel must be one of {', '.join(CHANNELS)}, not {p.channel!r}", field="channel"
        )
    if not 0 < p.amount_yen <= MAX_YEN:
        raise InvalidArgument(f"amount_yen must be between 1 and {MAX_YEN:,}", field="amount_yen")
    if len(p.lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_LINES} lines per purchase", field="lines")
    for index, line in enumerate(p.lines):
        if not 0 < line.amount_yen <= MAX_YEN:
            raise InvalidArgument(
                "a line's amount_yen must be positive", field=f"lines[{index}].amount_yen"
            )
        if not line.sku and not line.category:
            raise InvalidArgument("a line needs a sku or a category", field=f"lines[{index}].sku")
    if p.lines and sum(line.amount_yen for line in p.lines) != p.amount_yen:
        raise InvalidArgument(
            "the lines' amounts must add up to amount_yen (send discounts as reduced line amounts)",
            field="lines",
        )
