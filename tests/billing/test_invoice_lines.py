"""An invoice's lines and totals from a period's facts; lifecycle rules; credit notes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.errors import FailedPrecondition, InvalidArgument
from services.billing.domain.fees import BillingPlan
from services.billing.domain.invoices import (
    ChargeGroup,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    PeriodFacts,
    check_credit_fits,
    check_finalizable,
    check_transition,
    credit_note_lines,
    draft_lines,
    totals,
)
from services.billing.domain.periods import Period

APRIL = Period(2026, 4)


def facts(**overrides: object) -> PeriodFacts:
    values: dict[str, object] = {
        "period": APRIL,
        "issued_ids": 150,
        "charges": (ChargeGroup(APRIL, 1, 50_000, False), ChargeGroup(APRIL, 1, -2_000, True)),
        "window_grants_yen": 48_000,
        "first_invoice": True,
    }
    values.update(overrides)
    return PeriodFacts(**values)  # type: ignore[arg-type]


def amounts(lines: list[InvoiceLine]) -> list[tuple[LineKind, int]]:
    return [(line.kind, line.amount_yen) for line in lines]


def test_first_invoice_has_setup_fee_service_fee_and_point_charges() -> None:
    lines = draft_lines(BillingPlan(), facts())
    assert amounts(lines) == [
        (LineKind.SETUP_FEE, 300_000),
        (LineKind.SERVICE_FEE, 100_000),
        (LineKind.POINT_CHARGES, 50_000),
        (LineKind.POINT_REVERSALS, -2_000),
    ]
    t = totals(lines, 10, "floor")
    assert (t.subtotal_yen, t.tax_yen, t.total_yen) == (448_000, 44_800, 492_800)


def test_later_invoices_have_no_setup_fee_and_points_use_the_unit_price() -> None:
    groups = (ChargeGroup(APRIL, 3, 1_000, False),)
    lines = draft_lines(BillingPlan(), facts(first_invoice=False, charges=groups))
    assert amounts(lines) == [(LineKind.SERVICE_FEE, 100_000), (LineKind.POINT_CHARGES, 3_000)]
    assert lines[1].quantity == 1_000
    assert lines[1].unit_yen == 3


def test_waiver_at_the_threshold_frees_setup_and_service_fees_not_points() -> None:
    below = draft_lines(BillingPlan(), facts(window_grants_yen=19_999_999))
    assert LineKind.WAIVER not in [line.kind for line in below]
    at = draft_lines(BillingPlan(), facts(window_grants_yen=20_000_000))
    assert amounts(at)[:4] == [
        (LineKind.SETUP_FEE, 300_000),
        (LineKind.WAIVER, -300_000),
        (LineKind.SERVICE_FEE, 100_000),
        (LineKind.WAIVER, -100_000),
    ]
    assert totals(at, 10, "floor").subtotal_yen == 48_000  # only the points remain


def test_benefits_bundle_never_pays_setup_or_service_fees() -> None:
    lines = draft_lines(BillingPlan(benefits_bundle=True), facts(window_grants_yen=0))
    assert totals(lines, 10, "floor").subtotal_yen == 48_000
    assert "benefits bundle" in lines[1].description


def test_late_charges_say_which_month_they_come_from() -> None:
    late = (ChargeGroup(Period(2026, 3), 1, 700, False),)
    lines = draft_lines(BillingPlan(), facts(first_invoice=False, charges=late))
    assert "late from 2026-03" in lines[-1].description


def test_lifecycle_transitions() -> None:
    check_transition(InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED)
    check_transition(InvoiceStatus.FINALIZED, InvoiceStatus.PAID)
    check_transition(InvoiceStatus.FINALIZED, InvoiceStatus.VOID)
    for current, target, reason in [
        (InvoiceStatus.FINALIZED, InvoiceStatus.FINALIZED, "INVOICE_NOT_DRAFT"),
        (InvoiceStatus.DRAFT, InvoiceStatus.PAID, "INVOICE_NOT_FINALIZED"),
        (InvoiceStatus.PAID, InvoiceStatus.VOID, "INVOICE_NOT_FINALIZED"),
        (InvoiceStatus.VOID, InvoiceStatus.PAID, "INVOICE_NOT_FINALIZED"),
    ]:
        with pytest.raises(FailedPrecondition) as caught:
            check_transition(current, target)
        assert caught.value.reason == reason


def test_finalizing_waits_for_the_month_to_end_unless_told() -> None:
    end = datetime(2026, 4, 30, 15, tzinfo=UTC)
    with pytest.raises(FailedPrecondition) as caught:
        check_finalizable(APRIL, datetime(2026, 4, 30, 14, 59, tzinfo=UTC), end, early=False)
    assert caught.value.reason == "PERIOD_NOT_ENDED"
    check_finalizable(APRIL, end, end, early=False)
    check_finalizable(APRIL, datetime(2026, 4, 2, tzinfo=UTC), end, early=True)


def test_credit_note_lines_are_negative_and_bounded() -> None:
    lines = credit_note_lines([("Service fee overcharge", 40_000)])
    assert amounts(lines) == [(LineKind.CREDIT, -40_000)]
    note = totals(lines, 10, "floor")
    assert (note.tax_yen, note.total_yen) == (-4_000, -44_000)
    check_credit_fits(110_000, 0, -110_000)
    with pytest.raises(FailedPrecondition) as caught:
        check_credit_fits(110_000, -66_000, -44_001)
    assert caught.value.reason == "CREDIT_EXCEEDS_INVOICE"
    for bad, field in [
        ([], "lines"),
        ([("", 10)], "lines[0].description"),
        ([("ok", 0)], "lines[0].amount_yen"),
        ([("ok", 5), ("ok", -5)], "lines[1].amount_yen"),
    ]:
        with pytest.raises(InvalidArgument) as invalid:
            credit_note_lines(bad)
        assert invalid.value.field == field
