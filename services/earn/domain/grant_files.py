"""Reading grant files: a converter maps any CSV/TSV layout onto the standard columns.

Standard columns: member (external ref), criterion_id, points, reason. Pure: bytes in, rows
(with their line numbers) or row errors out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from runtime.errors import InvalidArgument

STANDARD = ("member", "criterion_id", "points", "reason")
ENCODINGS = {"": "utf-8-sig", "utf-8": "utf-8-sig", "shift_jis": "cp932"}


@dataclass(frozen=True)
class FileLayout:
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    columns: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GrantRow:
    line: int
    member: str
    criterion_id: str
    points: int
    reason: str


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


def check_layout(layout: FileLayout) -> None:
    if layout.encoding.lower() not in ENCODINGS:
        raise InvalidArgument("encoding must be utf-8 or shift_jis", field="converter.encoding")
    if layout.delimiter not in ("", ",", "\t"):
        raise InvalidArgument("delimiter must be ',' or a tab", field="converter.delimiter")
    for name in (*layout.columns, *layout.fixed):
        if name not in STANDARD:
            raise InvalidArgument(
                f"unknown standard column {name!r} (one of {', '.join(STANDARD)})",
                field="converter.columns",
            )


def decode(data: bytes, layout: FileLayout) -> str:
    try:
        return data.decode(ENCODINGS[layout.encoding.lower()])
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"the file is not {layout.encoding or 'utf-8'} (byte {exc.start})",
            field="converter.encoding",
        ) from None


def read_rows(text: str, layout: FileLayout) -> Iterator[GrantRow | RowError]:
    try:
        yield from _read_rows(text, layout)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit, a stray quote
        raise InvalidArgument(f"the file is not readable CSV: {exc}", field="chunk") from None


def _read_rows(text: str, layout: FileLayout) -> Iterator[GrantRow | RowError]:
    reader = csv.reader(io.StringIO(text), delimiter=layout.delimiter or ",")
    names: list[str] = []
    if layout.header:
        names = [n.strip() for n in next(reader, [])]
    where: dict[str, int] = {}
    for column in STANDARD:
        source = layout.columns.get(column, column)
        if source.startswith("#") and source[1:].isdigit():
            where[column] = int(source[1:]) - 1
        elif source in names:
            where[column] = names.index(source)
    for offset, cells in enumerate(reader):
        line = offset + (2 if layout.header else 1)
        if not any(c.strip() for c in cells):
            continue

        def cell(column: str, cells: list[str] = cells) -> str:
            if column in layout.fixed:
                return layout.fixed[column]
            index = where.get(column)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        member = cell("member")
        if not member:
            yield RowError(line, "member", "the member is missing")
            continue
        raw_points = cell("points")
        points = 0
        if raw_points:
            if not raw_points.isdigit() or not 0 < int(raw_points) <= 1_000_000_000:
                yield RowError(line, "points", f"points {raw_points!r} is not a positive integer")
                continue
            points = int(raw_points)
        yield GrantRow(line, member, cell("criterion_id"), points, cell("reason"))
