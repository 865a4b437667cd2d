"""Purchase files: one purchase per row, onto the standard columns

    purchase_id, member (external ref) or card (a linked card number), amount_yen,
    occurred_at, channel, store, sku, category

A row with an sku or category is a purchase of one line of that SKU/category (campaigns with
SKU or category conditions see it). Pure: bytes in, purchases or row errors out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo

from runtime.programs.spec_earn import PURCHASE_COLUMNS as STANDARD
from services.earn.domain.file_layouts import FileLayout, Row, RowError, parse_time, read_cells

MAX_YEN = 1_000_000_000_000


@dataclass(frozen=True)
class PurchaseRow:
    line: int
    purchase_id: str
    member: str
    card: str
    amount_yen: int
    occurred_at: datetime
    channel: str
    store: str
    sku: str
    category: str


def read_purchases(text: str, layout: FileLayout, zone: tzinfo) -> Iterator[PurchaseRow | RowError]:
    for row in read_cells(text, layout, STANDARD):
        yield _purchase(row, layout, zone)


def _purchase(row: Row, layout: FileLayout, zone: tzinfo) -> PurchaseRow | RowError:
    if not row["purchase_id"]:
        return RowError(row.line, "purchase_id", "the purchase id is missing")
    if not row["member"] and not row["card"]:
        return RowError(row.line, "member", "the member (or card) is missing")
    raw = row["amount_yen"].replace(",", "")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_YEN:
        return RowError(row.line, "amount_yen", f"amount {raw!r} is not a positive yen amount")
    if not row["occurred_at"]:
        return RowError(row.line, "occurred_at", "the purchase time is missing")
    try:
        at = parse_time(row["occurred_at"], layout, zone)
    except ValueError as exc:
        return RowError(row.line, "occurred_at", str(exc))
    return PurchaseRow(
        line=row.line,
        purchase_id=row["purchase_id"],
        member=row["member"],
        card=row["card"],
        amount_yen=int(raw),
        occurred_at=at,
        channel=row["channel"],
        store=row["store"],
        sku=row["sku"],
        category=row["category"],
    )
