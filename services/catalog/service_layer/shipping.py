"""Shipping quotes: the program's rules applied to the items of an order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import NotFound
from services.catalog.adapters import items_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.domain.regions import parse_postal_code, parse_prefecture
from services.catalog.domain.reservations import LineRequest, validate_lines
from services.catalog.domain.shipping import ShippedLine, ShippingQuote, ShippingRules, quote


async def quote_shipping(
    session: AsyncSession,
    view: CatalogView,
    rules: ShippingRules,
    lines: Sequence[LineRequest],
    prefecture: str,
    postal_code: str,
) -> ShippingQuote:
    checked = validate_lines(lines)
    where = parse_prefecture(prefecture)
    postal = parse_postal_code(postal_code)
    shipped = []
    for index, line in enumerate(checked):
        row = await repo.find_visible(session, view, line.sku)
        if row is None:
            raise NotFound(
                f"no item with sku {line.sku!r} in this program's catalog",
                reason="ITEM_NOT_FOUND",
                field=f"lines[{index}].sku",
            )
        item = repo.to_item(row)
        shipped.append(
            ShippedLine(item.sku, item.type, line.quantity, item.draft.shipping_fee_points)
        )
    return quote(rules, where, postal, shipped)
