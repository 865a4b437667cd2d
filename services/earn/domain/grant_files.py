"""Grant files: standard columns member (external ref), criterion_id, points, reason.

Pure: bytes in, rows (with their line numbers) or row errors out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from runtime.programs.spec_earn import GRANT_COLUMNS as STANDARD
from services.earn.domain.file_layouts import FileLayout, RowError, read_cells


@dataclass(frozen=True)
class GrantRow:
    line: int
    member: str
    criterion_id: str
    points: int
    reason: str


def read_rows(text: str, layout: FileLayout) -> Iterator[GrantRow | RowError]:
    for row in read_cells(text, layout, STANDARD):
        member = row["member"]
        if not member:
            yield RowError(row.line, "member", "the member is missing")
            continue
        raw_points = row["points"]
        points = 0
        if raw_points:
            if not raw_points.isdigit() or not 0 < int(raw_points) <= 1_000_000_000:
                yield RowError(
                    row.line, "points", f"points {raw_points!r} is not a positive integer"
                )
                continue
            points = int(raw_points)
        yield GrantRow(row.line, member, row["criterion_id"], points, row["reason"])
