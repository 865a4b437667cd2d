"""Whole-point arithmetic: fractions of a point are rounded the program's way, never floats."""

from __future__ import annotations

from typing import Literal

Rounding = Literal["floor", "round", "ceil"]


def divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    """numerator / denominator rounded to a whole number (half up for `round`).

    Integer-only so 1 point per 100 yen on 1,999,999,999,999 yen is exact; both arguments are
    non-negative here (amounts and percentages are validated before they arrive)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if rounding == "floor":
        return numerator // denominator
    if rounding == "ceil":
        return -((-numerator) // denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def base_points(yen: int, yen_per_unit: int, points_per_unit: int, rounding: Rounding) -> int:
    """Points for `yen` at the base rate (pointsPerUnit for every yenPerUnit yen)."""
    return divide(yen * points_per_unit, yen_per_unit, rounding)


def percent_extra(points_numerator: int, denominator: int, percent: int, rounding: Rounding) -> int:
    """The extra a `percent` multiplier adds to points_numerator/denominator points
    (200% adds 100%), rounded once so 1.5x of 3 points is 1 extra point, not 1.5."""
    return divide(points_numerator * (percent - 100), denominator * 100, rounding)
