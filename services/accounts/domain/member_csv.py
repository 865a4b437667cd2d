"""The member CSV format shared by ImportMembers and ExportMembers (docs/members.md).

Columns: external_ref (required), display_name, email, phone, birth_date (YYYY-MM-DD),
group_ids (`;`-separated ids), identifiers (`;`-separated `type:value`, e.g.
`card_number:1234;app_id:u-9`), attr.<name> (one column per attribute). An export adds
account_id, status, tier_id, available and held, which an import reads past, so an export can
be imported again as it is.

Import semantics (so that running a file twice changes nothing the second time): a column
left out of the header leaves that field as it is; a present column sets it (an empty cell
clears it, an empty attr.<name> cell removes the attribute); identifiers are only ever added
(a row never unlinks one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from runtime.errors import InvalidArgument
from services.accounts.domain.members import (
    IDENTIFIER_KINDS,
    MAX_ATTRIBUTES,
    MAX_IDENTIFIERS,
    MAX_NAME,
    check_attributes,
    check_email,
    check_external_ref,
    check_group_ids,
    check_identifier_value,
    check_phone,
    check_text,
    parse_birth_date,
)

PROFILE_COLUMNS = ("external_ref", "display_name", "email", "phone", "birth_date")
LIST_COLUMNS = ("group_ids", "identifiers")
EXPORT_ONLY_COLUMNS = ("account_id", "status", "tier_id", "available", "held")
ATTRIBUTE_PREFIX = "attr."
SEPARATOR = ";"
MAX_RECORD = 1 << 20  # characters in one CSV record; beyond it the file is not member data


@dataclass(frozen=True, slots=True)
class Header:
    index: dict[str, int]  # known column -> position
    attributes: tuple[tuple[str, int], ...]  # attribute name -> position
    width: int


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One checked data row. None: the column is absent, leave the field as it is."""

    row: int
    external_ref: str
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    has_birth_date: bool = False
    group_ids: tuple[str, ...] | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    attributes: dict[str, str] | None = None  # "" removes the attribute


def parse_header(cells: Sequence[str]) -> Header:
    index: dict[str, int] = {}
    attributes: list[tuple[str, int]] = []
    for position, raw in enumerate(cells):
        name = raw.strip()
        if name in index or any(name == ATTRIBUTE_PREFIX + a for a, _ in attributes):
            raise InvalidArgument(f"column {name!r} appears twice in the header", field="chunk")
        if name.startswith(ATTRIBUTE_PREFIX):
            key = name.removeprefix(ATTRIBUTE_PREFIX)
            try:
                check_attributes({key: ""})
            except InvalidArgument as exc:
                raise InvalidArgument(
                    f"header column {name!r}: {exc.message}", field="chunk"
                ) from None
            attributes.append((key, position))
        elif name in PROFILE_COLUMNS or name in LIST_COLUMNS or name in EXPORT_ONLY_COLUMNS:
            index[name] = position
        else:
            raise InvalidArgument(
                f"unknown column {name!r}; columns are {', '.join(PROFILE_COLUMNS + LIST_COLUMNS)}"
                f" and {ATTRIBUTE_PREFIX}<name>",
                field="chunk",
            )
    if "external_ref" not in index:
        raise InvalidArgument("the header must have an external_ref column", field="chunk")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"at most {MAX_ATTRIBUTES} attr.<name> columns", field="chunk")
    return Header(index, tuple(attributes), len(cells))


def _identifiers(cell: str, column: str) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for item in cell.split(SEPARATOR) if cell else []:
        kind, colon, value = item.partition(":")
        if not colon or kind not in IDENTIFIER_KINDS:
            raise InvalidArgument(
                f"{item!r} is not type:value with a type among "
                + ", ".join(sorted(IDENTIFIER_KINDS)),
                field=column,
            )
        check_identifier_value(value, column)
        if (kind, value) not in found:
            found.append((kind, value))
    if len(found) > MAX_IDENTIFIERS:
        raise InvalidArgument(f"at most {MAX_IDENTIFIERS} identifiers", field=column)
    return tuple(found)


def parse_row(header: Header, cells: Sequence[str], row: int, today: date) -> ImportRow | RowError:
    """Check one data row (`row` is 1-based); a RowError names the column at fault."""
    if len(cells) != header.width:
        return RowError(
            row, "", "WRONG_COLUMN_COUNT", f"{len(cells)} cells, the header has {header.width}"
        )

    def cell(name: str) -> str | None:
        position = header.index.get(name)
        return None if position is None else cells[position]

    try:
        ref = check_external_ref(cell("external_ref") or "", "external_ref", required=True)
        name = cell("display_name")
        email = cell("email")
        phone = cell("phone")
        birth = cell("birth_date")
        groups = cell("group_ids")
        identifiers = cell("identifiers")
        attributes = {key: cells[position] for key, position in header.attributes}
        check_attributes(attributes, "attr")
        return ImportRow(
            row=row,
            external_ref=ref,
            display_name=None if name is None else check_text(name, "display_name", MAX_NAME),
            email=None if email is None else check_email(email),
            phone=None if phone is None else check_phone(phone),
            birth_date=None if birth is None else parse_birth_date(birth, today),
            has_birth_date=birth is not None,
            group_ids=None
            if groups is None
            else check_group_ids(groups.split(SEPARATOR) if groups else [], "group_ids"),
            identifiers=_identifiers(identifiers or "", "identifiers"),
            attributes=attributes if header.attributes else None,
        )
    except InvalidArgument as exc:
        column = exc.field.split("[")[0]
        if column == "attr":
            column = ATTRIBUTE_PREFIX + exc.field.removeprefix("attr[").rstrip("]")
        return RowError(row, column, exc.reason, exc.message)


def merged_attributes(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    merged = dict(current)
    for key, value in changes.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return merged


class RecordSplitter:
    """Cuts decoded CSV text, arriving in pieces cut anywhere, into whole records. A newline
    ends a record only outside quotes; an even count of `"` so far means outside (an escaped
    quote is `""`, two of them), so no record is held longer than it takes to arrive."""

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._quotes = 0
        self._max = max_record

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._size += len(piece)
        self._quotes += piece.count('"')
        if self._size > self._max:
            raise InvalidArgument(
                f"a CSV record is longer than {self._max} characters (an unclosed quote?)",
                field="chunk",
            )

    def feed(self, text: str) -> list[str]:
        records: list[str] = []
        start = 0
        while True:
            end = text.find("\n", start)
            if end < 0:
                if start < len(text):
                    self._append(text[start:])
                return records
            self._append(text[start : end + 1])
            if self._quotes % 2 == 0:
                records.append("".join(self._parts))
                self._parts, self._size, self._quotes = [], 0, 0
            start = end + 1

    def finish(self) -> list[str]:
        if self._quotes % 2:
            raise InvalidArgument("the CSV ends inside a quoted field", field="chunk")
        rest = "".join(self._parts)
        self._parts, self._size = [], 0
        return [rest] if rest.strip() else []


def read_records(records: Iterable[str]) -> list[list[str]]:
    """Whole records -> cells; blank lines are skipped."""
    return [cells for cells in csv.reader(records) if cells and any(c.strip() for c in cells)]


def export_header(attribute_keys: Sequence[str]) -> list[str]:
    return [
        *PROFILE_COLUMNS,
        *LIST_COLUMNS,
        *(ATTRIBUTE_PREFIX + key for key in attribute_keys),
        *EXPORT_ONLY_COLUMNS,
    ]


def write_rows(rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue().encode()
