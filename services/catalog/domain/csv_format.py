"""The item CSV that admins import and export (UTF-8, header row, one item per row).

Import and export use the same columns, so an export edited in a spreadsheet imports back.
`on_hand` and `reserved` are written by the export and ignored by the import (stock changes go
through AdjustStock); `initial_stock` and `unlimited_stock` apply only to rows creating an item.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from runtime.errors import InvalidArgument
from services.catalog.domain.items import (
    Item,
    ItemDraft,
    ItemStatus,
    ItemType,
    validate_draft,
    validate_initial_stock,
)

COLUMNS = (
    "sku",
    "title",
    "description",
    "category",
    "type",
    "price_points",
    "image_urls",
    "available_from",
    "available_until",
    "max_per_member",
    "shipping_fee_points",
    "low_stock_threshold",
    "status",
    "initial_stock",
    "unlimited_stock",
)
EXPORT_ONLY = ("on_hand", "reserved")
REQUIRED = ("sku", "title", "type", "price_points")
MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    draft: ItemDraft
    initial_stock: int
    unlimited_stock: bool


def parse_csv(data: bytes) -> list[ImportRow]:
    """Every row checked, or InvalidArgument naming the first bad cell as `csv[LINE].COLUMN`."""
    if len(data) > MAX_BYTES:
        raise InvalidArgument(f"the CSV is larger than {MAX_BYTES} bytes: split it", field="csv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"the CSV is not UTF-8 (byte {exc.start}): save it as UTF-8", field="csv"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidArgument("the CSV is empty: it needs a header row", field="csv") from None
    _check_header(header)
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(rows) == MAX_ROWS:
                raise InvalidArgument(f"at most {MAX_ROWS} rows per import", field="csv")
            if len(cells) != len(header):
                raise InvalidArgument(
                    f"{len(cells)} cells where the header has {len(header)}", field=f"csv[{line}]"
                )
            row = _parse_row(line, dict(zip(header, cells, strict=True)))
            if row.draft.sku in seen:
                raise InvalidArgument(
                    f"sku {row.draft.sku} appears twice (first on line {seen[row.draft.sku]})",
                    field=f"csv[{line}].sku",
                )
            seen[row.draft.sku] = line
            rows.append(row)
    except csv.Error as exc:
        raise InvalidArgument(f"malformed CSV: {exc}", field=f"csv[{reader.line_num}]") from None
    return rows


def _check_header(header: list[str]) -> None:
    known = set(COLUMNS) | set(EXPORT_ONLY)
    for index, name in enumerate(header):
        if name not in known:
            raise InvalidArgument(
                f"unknown column {name[:40]!r}; columns are {', '.join(COLUMNS)}",
                field=f"csv[1][{index}]",
            )
    if len(set(header)) != len(header):
        raise InvalidArgument("a column appears twice in the header", field="csv[1]")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidArgument(f"missing columns: {', '.join(missing)}", field="csv[1]")


def _parse_row(line: int, cells: dict[str, str]) -> ImportRow:
    def cell(name: str) -> str:
        return cells.get(name, "").strip()

    def field(name: str) -> str:
        return f"csv[{line}].{name}"

    def integer(name: str) -> int:
        text = cell(name)
        if not text:
            return 0
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument(f"{name} must be a whole number", field=field(name)) from None

    def instant(name: str) -> datetime | None:
        text = cell(name)
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise InvalidArgument(
                f"{name} must be an ISO 8601 date-time with an offset, e.g. "
                "2026-04-01T00:00:00+09:00",
                field=field(name),
            )
        return value

    def boolean(name: str) -> bool:
        text = cell(name).lower()
        if text in ("", "false", "0", "no"):
            return False
        if text in ("true", "1", "yes"):
            return True
        raise InvalidArgument(f"{name} must be true or false", field=field(name))

    type_text = cell("type").lower()
    try:
        item_type: ItemType | None = ItemType(type_text) if type_text else None
    except ValueError:
        raise InvalidArgument(
            f"type must be one of {', '.join(t.value for t in ItemType)}", field=field("type")
        ) from None
    if not cell("price_points"):
        raise InvalidArgument("price_points is required", field=field("price_points"))
    status_text = cell("status").lower() or ItemStatus.ACTIVE.value
    if status_text not in (ItemStatus.ACTIVE.value, ItemStatus.INACTIVE.value):
        raise InvalidArgument("status must be active or inactive", field=field("status"))
    draft = ItemDraft(
        sku=cell("sku"),
        title=cell("title"),
        description=cells.get("description", ""),
        category=cell("category"),
        type=item_type,
        price_points=integer("price_points"),
        image_urls=tuple(cell("image_urls").replace("|", " ").split()),
        available_from=instant("available_from"),
        available_until=instant("available_until"),
        max_per_member=integer("max_per_member"),
        shipping_fee_points=integer("shipping_fee_points"),
        low_stock_threshold=integer("low_stock_threshold"),
        status=ItemStatus(status_text),
    )
    draft = validate_draft(draft, prefix=f"csv[{line}]")
    initial_stock, unlimited = integer("initial_stock"), boolean("unlimited_stock")
    assert draft.type is not None
    try:
        validate_initial_stock(draft.type, initial_stock, unlimited)
    except InvalidArgument as exc:
        raise InvalidArgument(exc.message, field=field(exc.field)) from None
    return ImportRow(line, draft, initial_stock, unlimited)


def export_rows(items: Iterable[Item]) -> Iterator[str]:
    """The CSV text, a header line then one line per item."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS, *EXPORT_ONLY])
    yield _take(buffer)
    for item in items:
        d = item.draft
        writer.writerow(
            [
                d.sku,
                d.title,
                d.description,
                d.category,
                item.type.value,
                d.price_points,
                "|".join(d.image_urls),
                d.available_from.isoformat() if d.available_from else "",
                d.available_until.isoformat() if d.available_until else "",
                d.max_per_member,
                d.shipping_fee_points,
                d.low_stock_threshold,
                d.status.value,
                "",
                "true" if item.stock.unlimited else "false",
                item.stock.on_hand,
                item.stock.reserved,
            ]
        )
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
