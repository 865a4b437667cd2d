"""An invoice's lines and totals from a period's facts, and the invoice lifecycle.

draft (recomputed as events arrive) -> finalized (numbered, immutable) -> paid | void.
Corrections after finalizing are credit notes: separate numbered documents with negative
lines, never edits. The database enforces the same (migration 0002's triggers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from runtime.errors import FailedPrecondition, InvalidArgument
from services.billing.domain.fees import BillingPlan, WaiverReason, service_fee, tax, waiver_reason
from services.billing.domain.periods import Period


class LineKind(StrEnum):
    SETUP_FEE = "setup_fee"
    SERVICE_FEE = "service_fee"
    POINT_CHARGES = "point_charges"
    POINT_REVERSALS = "point_reversals"
    WAIVER = "waiver"
    CREDIT = "credit"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    VOID = "void"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True)
class InvoiceLine:
    kind: LineKind
    description: str
    quantity: int
    unit_yen: int
    amount_yen: int


@dataclass(frozen=True)
class ChargeGroup:
    """Charged points of one kind and unit price, from events of `occurred` (a period)."""

    occurred: Period
    unit_yen: int
    points: int
    reversal: bool


@dataclass(frozen=True)
class PeriodFacts:
    period: Period
    issued_ids: int
    charges: tuple[ChargeGroup, ...]
    window_grants_yen: int
    first_invoice: bool


@dataclass(frozen=True)
class Totals:
    subtotal_yen: int
    tax_yen: int
    total_yen: int


WAIVER_TEXT = {
    WaiverReason.BENEFITS_BUNDLE: "benefits bundle",
    WaiverReason.ANNUAL_GRANTS: "annual grants reached the threshold",
}


def draft_lines(plan: BillingPlan, facts: PeriodFacts) -> list[InvoiceLine]:
    """The lines of a period's invoice: fees at list price, their waivers, point charges."""
    lines: list[InvoiceLine] = []
    waiver = waiver_reason(plan, facts.window_grants_yen)
    if facts.first_invoice and plan.setup_fee_yen:
        lines.append(
            InvoiceLine(LineKind.SETUP_FEE, "Setup fee", 1, plan.setup_fee_yen, plan.setup_fee_yen)
        )
        if waiver is not WaiverReason.NONE:
            lines.append(_waiver("Setup fee waived", waiver, plan.setup_fee_yen))
    fee = service_fee(facts.issued_ids, plan)
    lines.append(
        InvoiceLine(
            LineKind.SERVICE_FEE,
            f"Monthly service fee ({facts.issued_ids:,} issued member IDs)",
            1,
            fee,
            fee,
        )
    )
    if waiver is not WaiverReason.NONE and fee:
        lines.append(_waiver("Monthly service fee waived", waiver, fee))
    for group in sorted(facts.charges, key=lambda g: (g.reversal, g.occurred, g.unit_yen)):
        if group.points == 0:
            continue
        what = "Points clawed back by reversals" if group.reversal else "Sponsor-funded points"
        late = f", late from {group.occurred}" if group.occurred != facts.period else ""
        lines.append(
            InvoiceLine(
                LineKind.POINT_REVERSALS if group.reversal else LineKind.POINT_CHARGES,
                f"{what} ({group.unit_yen:,} yen per point{late})",
                group.points,
                group.unit_yen,
                group.points * group.unit_yen,
            )
        )
    return lines


def _waiver(text: str, reason: WaiverReason, amount: int) -> InvoiceLine:
    return InvoiceLine(LineKind.WAIVER, f"{text}: {WAIVER_TEXT[reason]}", 1, -amount, -amount)


def totals(lines: list[InvoiceLine], rate_percent: int, rounding: str) -> Totals:
    subtotal = sum(line.amount_yen for line in lines)
    tax_yen = tax(subtotal, rate_percent, rounding)
    return Totals(subtotal, tax_yen, subtotal + tax_yen)


ALLOWED = {
    InvoiceStatus.DRAFT: {InvoiceStatus.FINALIZED},
    InvoiceStatus.FINALIZED: {InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.PAID: set(),
    InvoiceStatus.VOID: set(),
}
REASON_FOR_TARGET = {
    InvoiceStatus.FINALIZED: "INVOICE_NOT_DRAFT",
    InvoiceStatus.PAID: "INVOICE_NOT_FINALIZED",
    InvoiceStatus.VOID: "INVOICE_NOT_FINALIZED",
}


def check_transition(current: InvoiceStatus, target: InvoiceStatus) -> None:
    if target not in ALLOWED[current]:
        raise FailedPrecondition(
            f"an invoice that is {current.value} cannot become {target.value}",
            reason=REASON_FOR_TARGET.get(target, "INVALID_TRANSITION"),
            field="invoice_id",
        )


def check_finalizable(period: Period, now: datetime, period_end: datetime, early: bool) -> None:
    if now < period_end and not early:
        raise FailedPrecondition(
            f"period {period} has not ended yet: finalize it after the month ends, or set "
            "before_period_end to finalize early (later charges then go on the next invoice)",
            reason="PERIOD_NOT_ENDED",
            field="before_period_end",
        )


MAX_CREDIT_LINES = 50


def credit_note_lines(requested: list[tuple[str, int]]) -> list[InvoiceLine]:
    """A credit note's lines (negative amounts) from (description, yen to credit) pairs."""
    if not requested:
        raise InvalidArgument("a credit note needs at least one line", field="lines")
    if len(requested) > MAX_CREDIT_LINES:
        raise InvalidArgument(f"at most {MAX_CREDIT_LINES} lines", field="lines")
    lines = []
    for index, (description, amount) in enumerate(requested):
        if not description.strip() or len(description) > 200:
            raise InvalidArgument(
                "description is required (at most 200 characters)",
                field=f"lines[{index}].description",
            )
        if not 1 <= amount <= 1_000_000_000_000:
            raise InvalidArgument(
                "amount_yen must be a positive number of yen",
                field=f"lines[{index}].amount_yen",
            )
        lines.append(InvoiceLine(LineKind.CREDIT, description.strip(), 1, -amount, -amount))
    return lines


def check_credit_fits(invoice_total: int, already_credited: int, credit_total: int) -> None:
    """Credit notes (negative totals) may together cancel at most the invoice's total."""
    remaining = invoice_total + already_credited
    if -credit_total > remaining:
        raise FailedPrecondition(
            f"the credit note totals {-credit_total:,} yen with tax but only {remaining:,} yen "
            "of the invoice is left to credit",
            reason="CREDIT_EXCEEDS_INVOICE",
            field="lines",
        )


@dataclass(frozen=True)
class InvoiceFacts:
    """What a draft was computed from; stored with the invoice (JSON) for audit."""

    issued_ids: int = 0
    charged_points: int = 0
    window_grants_yen: int = 0
    window_start: datetime | None = None
    window_end: datetime | None = None
    waiver_reason: str = ""
    first_invoice: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "issued_ids": self.issued_ids,
            "charged_points": self.charged_points,
            "window_grants_yen": self.window_grants_yen,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "waiver_reason": self.waiver_reason,
            "first_invoice": self.first_invoice,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> InvoiceFacts:
        def instant(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls(
            issued_ids=int(str(data.get("issued_ids", 0))),
            charged_points=int(str(data.get("charged_points", 0))),
            window_grants_yen=int(str(data.get("window_grants_yen", 0))),
            window_start=instant("window_start"),
            window_end=instant("window_end"),
            waiver_reason=str(data.get("waiver_reason", "")),
            first_invoice=bool(data.get("first_invoice", False)),
        )


def facts_of(
    plan: BillingPlan, facts: PeriodFacts, window: tuple[datetime, datetime]
) -> InvoiceFacts:
    return InvoiceFacts(
        issued_ids=facts.issued_ids,
        charged_points=sum(group.points for group in facts.charges),
        window_grants_yen=facts.window_grants_yen,
        window_start=window[0],
        window_end=window[1],
        waiver_reason=waiver_reason(plan, facts.window_grants_yen).value,
        first_invoice=facts.first_invoice,
    )


@dataclass(frozen=True)
class Invoice:
    """An invoice or credit note as documents and the API show it."""

    invoice_id: str
    program_id: str
    kind: InvoiceKind
    status: InvoiceStatus
    period: Period
    number: str | None
    time_zone: str
    lines: tuple[InvoiceLine, ...]
    totals: Totals
    tax_rate_percent: int
    tax_rounding: str
    facts: InvoiceFacts
    created_at: datetime
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    payment_reference: str = ""
    voided_at: datetime | None = None
    void_reason: str = ""
    corrects_invoice_id: str | None = None
    corrects_number: str | None = None
    reason: str = ""
    credited_yen: int = 0


def document_number(kind: InvoiceKind, program_id: str, sequence: int) -> str:
    prefix = "CN" if kind is InvoiceKind.CREDIT_NOTE else "INV"
    return f"{prefix}-{program_id}-{sequence:06d}"
