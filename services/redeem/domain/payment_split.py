"""How an order's total is paid: points first, the rest by card when the program allows it."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import FailedPrecondition


@dataclass(frozen=True, slots=True)
class SelfPayRules:
    enabled: bool
    yen_per_point: int
    min_points: int | None = None
    max_yen: int | None = None


@dataclass(frozen=True, slots=True)
class PaymentSplit:
    points: int
    yen: int


def split_payment(
    total_points: int, available: int, rules: SelfPayRules, has_token: bool
) -> PaymentSplit:
    """Points only when the balance covers the total; else the shortfall in yen by card, or a
    FAILED_PRECONDITION naming what is missing."""
    available = max(available, 0)
    if available >= total_points:
        return PaymentSplit(points=total_points, yen=0)
    shortfall = total_points - available
    if not rules.enabled:
        raise FailedPrecondition(
            f"the member has {available} points and the order needs {total_points}; this "
            "program does not allow paying the rest by card (self-pay is disabled)",
            reason="INSUFFICIENT_POINTS",
            field="lines",
        )
    if not has_token:
        raise FailedPrecondition(
            f"the member has {available} points and the order needs {total_points}: send a "
            f"payment_token to pay the remaining {shortfall} points by card",
            reason="INSUFFICIENT_POINTS",
            field="payment_token",
        )
    if rules.min_points is not None and available < rules.min_points:
        raise FailedPrecondition(
            f"an order paid partly by card must use at least {rules.min_points} points; the "
            f"member has {available}",
            reason="SELF_PAY_MIN_POINTS",
            field="payment_token",
        )
    yen = shortfall * rules.yen_per_point
    if rules.max_yen is not None and yen > rules.max_yen:
        raise FailedPrecondition(
            f"paying {yen} yen by card exceeds the program's limit of {rules.max_yen} yen per "
            "order",
            reason="SELF_PAY_LIMIT_EXCEEDED",
            field="payment_token",
        )
    return PaymentSplit(points=available, yen=yen)
