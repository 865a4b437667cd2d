"""The price list at every boundary, the waiver threshold, the bundle flag and tax rounding."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from services.billing.domain.fees import (
    BillingPlan,
    FeeTier,
    WaiverReason,
    service_fee,
    tax,
    waiver_reason,
)

DEFAULT = BillingPlan()


@pytest.mark.parametrize(
    ("issued", "fee"),
    [
        (0, 60_000),
        (1, 60_000),
        (100, 60_000),
        (101, 100_000),
        (1_000, 100_000),
        (1_001, 140_000),
        (5_000, 140_000),
        (5_001, 200_000),
        (10_000, 200_000),
        (10_001, 300_000),
        (20_000, 300_000),
        (20_001, 400_000),
        (30_000, 400_000),
        (30_001, 500_000),
        (1_000_000, 200_000 + 99 * 100_000),
    ],
)
def test_default_service_fee_table(issued: int, fee: int) -> None:
    assert service_fee(issued, DEFAULT) == fee


def test_fee_table_comes_from_the_plan() -> None:
    plan = BillingPlan(tiers=(FeeTier(10, 1_000), FeeTier(50, 5_000)), block_ids=25, block_yen=700)
    assert [service_fee(n, plan) for n in (10, 11, 50, 51, 75, 76)] == [
        1_000,
        5_000,
        5_000,
        5_700,
        5_700,
        6_400,
    ]


def test_negative_ids_are_a_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        service_fee(-1, DEFAULT)


@pytest.mark.parametrize(
    ("grants", "reason"),
    [
        (0, WaiverReason.NONE),
        (19_999_999, WaiverReason.NONE),
        (20_000_000, WaiverReason.ANNUAL_GRANTS),
        (20_000_001, WaiverReason.ANNUAL_GRANTS),
    ],
)
def test_waiver_threshold(grants: int, reason: WaiverReason) -> None:
    assert waiver_reason(DEFAULT, grants) is reason


def test_benefits_bundle_is_always_waived() -> None:
    plan = BillingPlan(benefits_bundle=True)
    assert waiver_reason(plan, 0) is WaiverReason.BENEFITS_BUNDLE
    assert waiver_reason(plan, 25_000_000) is WaiverReason.BENEFITS_BUNDLE


def test_configured_threshold() -> None:
    plan = BillingPlan(waiver_threshold_yen=1_000)
    assert waiver_reason(plan, 999) is WaiverReason.NONE
    assert waiver_reason(plan, 1_000) is WaiverReason.ANNUAL_GRANTS


@pytest.mark.parametrize(
    ("subtotal", "rounding", "expected"),
    [
        (1_234, "floor", 123),  # 123.4
        (1_234, "ceil", 124),
        (1_234, "round", 123),
        (1_235, "round", 124),  # 123.5: half away from zero
        (1_235, "floor", 123),
        (1_230, "ceil", 123),  # exact: nothing to round
        (-1_235, "round", -124),  # a credit note mirrors the invoice
        (-1_234, "floor", -123),
        (-1_234, "ceil", -124),
        (0, "ceil", 0),
    ],
)
def test_tax_rounding_at_ten_percent(subtotal: int, rounding: str, expected: int) -> None:
    assert tax(subtotal, 10, rounding) == expected


def test_tax_at_eight_percent_and_zero() -> None:
    assert tax(1_001, 8, "floor") == 80  # 80.08
    assert tax(1_001, 8, "ceil") == 81
    assert tax(999_999, 0, "ceil") == 0


def test_unknown_rounding_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        tax(100, 10, "bankers")
    assert caught.value.field == "tax_rounding"
