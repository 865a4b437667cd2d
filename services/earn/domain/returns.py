"""How much of a purchase's points a return takes back: proportional to the yen returned.

Each credit (one per lot kind) is reversed in proportion to the cumulative yen returned, so
several partial returns never take back more (or less) in total than one return of the same
lines would, and returning everything reverses exactly what was earned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runtime.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True)
class ReturnedLine:
    line: int  # index into the purchase's lines
    amount_yen: int  # 0: the whole rest of the line


@dataclass(frozen=True)
class ReturnPlan:
    returned_by_line: tuple[int, ...]  # cumulative yen returned per line after this return
    returned_yen: int  # cumulative yen returned after this return
    reverse_by_kind: Mapping[str, int]  # points to reverse now, per credited kind


def plan_return(
    *,
    amount_yen: int,
    line_amounts: Sequence[int],
    returned_before: Sequence[int],
    returned_yen_before: int,
    credited_by_kind: Mapping[str, int],
    lines: Sequence[ReturnedLine],
    full: bool,
    amount_without_lines: int = 0,
) -> ReturnPlan:
    """A purchase with lines returns lines; one without returns `amount_without_lines` yen
    (0 with `full`: everything left)."""
    by_line = list(returned_before) or [0] * len(line_amounts)
    if full:
        by_line = list(line_amounts)
        total = amount_yen
    elif line_amounts:
        if not lines:
            raise InvalidArgument("name the returned lines, or set full", field="lines")
        for index, returned in enumerate(lines):
            if not 0 <= returned.line < len(line_amounts):
                raise InvalidArgument(
                    f"the purchase has no line {returned.line}", field=f"lines[{index}].line"
                )
            left = line_amounts[returned.line] - by_line[returned.line]
            take = returned.amount_yen or left
            if take <= 0 or take > left:
                raise InvalidArgument(
                    f"line {returned.line} has {left:,} yen left to return",
                    field=f"lines[{index}].amount_yen",
                )
            by_line[returned.line] += take
        total = sum(by_line)
    else:
        left = amount_yen - returned_yen_before
        take = amount_without_lines or left
        if take <= 0 or take > left:
            raise InvalidArgument(
                f"the purchase has {left:,} yen left to return", field="amount_yen"
            )
        total = returned_yen_before + take
    if total <= returned_yen_before:
        raise FailedPrecondition(
            "everything in this purchase was already returned", reason="ALREADY_RETURNED"
        )
    reverse = {
        kind: credited * total // amount_yen - credited * returned_yen_before // amount_yen
        for kind, credited in credited_by_kind.items()
    }
    return ReturnPlan(tuple(by_line), total, {k: v for k, v in reverse.items() if v > 0})


def reversed_share(points: int, *, amount_yen: int, returned_before: int, returned_now: int) -> int:
    """One earning component's share of a return, by the same cumulative rule as the credits:
    all returns of a purchase together take back exactly `points` once everything is returned.
    Reports attribute reversed points to rules and campaigns with it."""
    total = returned_before + returned_now
    return points * total // amount_yen - points * returned_before // amount_yen
