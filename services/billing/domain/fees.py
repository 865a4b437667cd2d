"""The price list: monthly service fee by issued member IDs, waivers, tax. Pure functions.

Every number comes from the program's billing plan (`spec.billing`, see
runtime/programs/spec_billing.py); `BillingPlan()` holds the published defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from runtime.errors import InvalidArgument


@dataclass(frozen=True)
class FeeTier:
    up_to_ids: int
    monthly_yen: int


DEFAULT_TIERS = (
    FeeTier(100, 60_000),
    FeeTier(1_000, 100_000),
    FeeTier(5_000, 140_000),
    FeeTier(10_000, 200_000),
)


@dataclass(frozen=True)
class BillingPlan:
    yen_per_point: int = 1
    setup_fee_yen: int = 300_000
    tiers: tuple[FeeTier, ...] = field(default=DEFAULT_TIERS)
    block_ids: int = 10_000
    block_yen: int = 100_000
    waiver_threshold_yen: int = 20_000_000
    waiver_window: str = "contractYear"
    contract_start: date | None = None
    benefits_bundle: bool = False
    tax_rate_percent: int = 10
    tax_rounding: str = "floor"


class WaiverReason(StrEnum):
    NONE = ""
    BENEFITS_BUNDLE = "benefits_bundle"
    ANNUAL_GRANTS = "annual_grants"


def service_fee(issued_ids: int, plan: BillingPlan) -> int:
    """Monthly service fee for `issued_ids` member IDs (none issued pays the first tier).

    Beyond the last tier, each further block of `block_ids` IDs, or part of one, adds
    `block_yen`: with the defaults 10,001-20,000 IDs cost 300,000 yen, 20,001-30,000 400,000.
    """
    if issued_ids < 0:
        raise ValueError("issued_ids cannot be negative")
    tiers = sorted(plan.tiers, key=lambda t: t.up_to_ids)
    for tier in tiers:
        if issued_ids <= tier.up_to_ids:
            return tier.monthly_yen
    last = tiers[-1]
    beyond = issued_ids - last.up_to_ids
    blocks = -(-beyond // plan.block_ids)  # ceiling division: a started block counts
    return last.monthly_yen + blocks * plan.block_yen


def waiver_reason(plan: BillingPlan, window_grants_yen: int) -> WaiverReason:
    """Why setup and service fees are free this period, if they are."""
    if plan.benefits_bundle:
        return WaiverReason.BENEFITS_BUNDLE
    if window_grants_yen >= plan.waiver_threshold_yen:
        return WaiverReason.ANNUAL_GRANTS
    return WaiverReason.NONE


def tax(subtotal_yen: int, rate_percent: int, rounding: str) -> int:
    """Consumption tax on an invoice's subtotal, rounded once per invoice.

    The rounding ("floor", "ceil", or "round": half away from zero) applies to the tax's
    magnitude and the sign follows the subtotal, so a credit note's tax mirrors the invoice's.
    Integer arithmetic only: no binary fractions of a yen.
    """
    if rate_percent < 0:
        raise InvalidArgument("tax rate cannot be negative", field="tax_rate_percent")
    sign = -1 if subtotal_yen < 0 else 1
    numerator = abs(subtotal_yen) * rate_percent
    whole, remainder = divmod(numerator, 100)
    if rounding == "floor":
        rounded = whole
    elif rounding == "ceil":
        rounded = whole + (1 if remainder else 0)
    elif rounding == "round":
        rounded = whole + (1 if remainder * 2 >= 100 else 0)
    else:
        raise InvalidArgument(f"unknown tax rounding {rounding!r}", field="tax_rounding")
    return sign * rounded
