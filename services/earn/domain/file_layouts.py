"""Reading a sponsor's own CSV/TSV layout: a converter maps it onto standard columns.

A layout says the encoding, the delimiter, whether a header names the columns, which file
column (by name, or `#n` by position) holds each standard column, values fixed for every row,
and how dates are written. Pure: bytes in, cells by standard column name out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from runtime.errors import InvalidArgument

ENCODINGS = {"": "utf-8-sig", "utf-8": "utf-8-sig", "shift_jis": "cp932"}


@dataclass(frozen=True)
class FileLayout:
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    columns: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, str] = field(default_factory=dict)
    # strptime format of date/time cells (e.g. "%Y/%m/%d %H:%M"); "": ISO 8601.
    date_format: str = ""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class Row:
    """One data row: its line number and a cell lookup by standard column."""

    line: int
    cells: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


def check_layout(layout: FileLayout, standard: Sequence[str]) -> None:
    if layout.encoding.lower() not in ENCODINGS:
        raise InvalidArgument("encoding must be utf-8 or shift_jis", field="converter.encoding")
    if layout.delimiter not in ("", ",", "\t"):
        raise InvalidArgument("delimiter must be ',' or a tab", field="converter.delimiter")
    for name in (*layout.columns, *layout.fixed):
        if name not in standard:
            raise InvalidArgument(
                f"unknown standard column {name!r} (one of {', '.join(standard)})",
                field="converter.columns",
            )
    if layout.date_format:
        try:
            datetime.now().strftime(layout.date_format)
        except ValueError:
            raise InvalidArgument(
                f"date_format {layout.date_format!r} is not a strftime format",
                field="converter.date_format",
            ) from None


def decode(data: bytes, layout: FileLayout) -> str:
    try:
        return data.decode(ENCODINGS[layout.encoding.lower()])
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"the file is not {layout.encoding or 'utf-8'} (byte {exc.start})",
            field="converter.encoding",
        ) from None


def read_cells(text: str, layout: FileLayout, standard: Sequence[str]) -> Iterator[Row]:
    """The file's non-blank rows as standard columns (line numbers count the header as 1)."""
    try:
        yield from _read_cells(text, layout, standard)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit, a stray quote
        raise InvalidArgument(f"the file is not readable CSV: {exc}", field="chunk") from None


def _read_cells(text: str, layout: FileLayout, standard: Sequence[str]) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text), delimiter=layout.delimiter or ",")
    names: list[str] = []
    if layout.header:
        names = [n.strip() for n in next(reader, [])]
    where: dict[str, int] = {}
    for column in standard:
        source = layout.columns.get(column, column)
        if source.startswith("#") and source[1:].isdigit():
            where[column] = int(source[1:]) - 1
        elif source in names:
            where[column] = names.index(source)
    for offset, cells in enumerate(reader):
        if not any(c.strip() for c in cells):
            continue
        found = {
            column: cells[index].strip() for column, index in where.items() if index < len(cells)
        }
        found.update(layout.fixed)
        yield Row(offset + (2 if layout.header else 1), found)


def parse_time(value: str, layout: FileLayout, zone: tzinfo) -> datetime:
    """A date/time cell: with the layout's format, else ISO 8601. A time without an offset is
    the program's local time (files from POS systems rarely say their zone)."""
    try:
        at = (
            datetime.strptime(value, layout.date_format)
            if layout.date_format
            else datetime.fromisoformat(value)
        )
    except ValueError:
        wanted = layout.date_format or "ISO 8601, e.g. 2026-12-06T10:30:00+09:00"
        raise ValueError(f"{value!r} is not a date in the form {wanted}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)
