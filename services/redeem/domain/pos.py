"""Points at the point of sale: a discount paid with points on one sale."""

from __future__ import annotations

from runtime.errors import InvalidArgument
from services.redeem.domain.orders import check_text

MAX_POINTS = 10**12


def validate_discount(points: int, sale_id: str, store_id: str) -> None:
    if not 1 <= points <= MAX_POINTS:
        raise InvalidArgument("points must be 1 or more", field="points")
    check_sale_id(sale_id)
    check_text(store_id, "store_id", limit=64)


def check_sale_id(sale_id: str) -> str:
    return check_text(sale_id, "sale_id", required=True, limit=128)
