"""Invoice lifecycle: read (drafts made on demand), finalize, void, mark paid, credit notes.

Handlers take a unit of work and never commit; entrypoints run them idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition, InvalidArgument
from runtime.programs.spec import ProgramSpec
from services.billing.adapters.invoice_repository import InvoiceRepository
from services.billing.adapters.orm import InvoiceRow
from services.billing.adapters.repository import BillingRepository
from services.billing.domain.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    check_credit_fits,
    check_finalizable,
    check_transition,
    credit_note_lines,
    document_number,
    totals,
)
from services.billing.domain.periods import Period
from services.billing.service_layer.drafts import Drafts, current_period


@dataclass
class Billing:
    """One program's invoices inside one unit of work."""

    uow: UnitOfWork
    program_id: str
    spec: ProgramSpec

    def __post_init__(self) -> None:
        self.repo = BillingRepository(self.uow.session, self.program_id)
        self.invoices = InvoiceRepository(self.uow.session, self.program_id)
        self.drafts = Drafts(self.repo, self.invoices, self.spec)

    async def prepare(self) -> None:
        """Drafts for every period up to the current one, computed from the latest facts."""
        now = datetime.now(UTC)
        await self.repo.ensure_program(now.astimezone(self.spec.zone).date())
        current = current_period(self.spec, now)
        await self.drafts.ensure_up_to(current)
        await self.drafts.recompute_from(await self.drafts.first_period())

    async def for_period(self, period: Period) -> Invoice:
        now = datetime.now(UTC)
        await self.repo.ensure_program(now.astimezone(self.spec.zone).date())
        if period > current_period(self.spec, now):
            raise InvalidArgument(f"period {period} has not begun yet", field="period")
        first = await self.drafts.first_period()
        if period < first:
            raise FailedPrecondition(
                f"period {period} is before the program's first billing period {first}",
                reason="PERIOD_BEFORE_CONTRACT",
                field="period",
            )
        return await self.invoices.load(await self.drafts.recompute(period))

    async def by_id(self, invoice_id: str) -> Invoice:
        row = await self.invoices.get(_id(invoice_id))
        if row.status == InvoiceStatus.DRAFT.value:
            row = await self.drafts.recompute(Period.parse(row.period))
        return await self.invoices.load(row)

    async def finalize(self, invoice_id: str, *, early: bool) -> Invoice:
        row = await self._invoice(invoice_id)
        check_transition(InvoiceStatus(row.status), InvoiceStatus.FINALIZED)
        period = Period.parse(row.period)
        now = datetime.now(UTC)
        check_finalizable(period, now, period.end(self.spec.zone), early)
        await self.drafts.recompute(period)  # the latest facts, under the row lock
        number = document_number(
            InvoiceKind.INVOICE, self.program_id, await self.invoices.next_number()
        )
        await self.invoices.set_status(
            row.invoice_id, status=InvoiceStatus.FINALIZED.value, number=number, finalized_at=now
        )
        return await self._reload(row.invoice_id)

    async def void(self, invoice_id: str, reason: str) -> Invoice:
        if not reason.strip():
            raise InvalidArgument("reason is required to void an invoice", field="reason")
        row = await self.invoices.get(_id(invoice_id), lock=True)
        check_transition(InvoiceStatus(row.status), InvoiceStatus.VOID)
        if row.kind == InvoiceKind.INVOICE.value and await self.invoices.credited(row.invoice_id):
            raise FailedPrecondition(
                "the invoice has credit notes: correct it with a further credit note instead",
                reason="INVOICE_CREDITED",
                field="invoice_id",
            )
        await self.invoices.set_status(
            row.invoice_id,
            status=InvoiceStatus.VOID.value,
            voided_at=datetime.now(UTC),
            void_reason=reason.strip()[:1000],
        )
        if row.kind == InvoiceKind.INVOICE.value:
            await self.drafts.recompute(Period.parse(row.period))  # its replacement draft
        return await self._reload(row.invoice_id)

    async def mark_paid(self, invoice_id: str, paid_at: datetime | None, reference: str) -> Invoice:
        if len(reference) > 200:
            raise InvalidArgument("at most 200 characters", field="payment_reference")
        row = await self._invoice(invoice_id)
        check_transition(InvoiceStatus(row.status), InvoiceStatus.PAID)
        when = paid_at or datetime.now(UTC)
        if row.finalized_at is not None and when < row.finalized_at:
            raise InvalidArgument("paid_at is before the invoice was finalized", field="paid_at")
        await self.invoices.set_status(
            row.invoice_id,
            status=InvoiceStatus.PAID.value,
            paid_at=when,
            payment_reference=reference,
        )
        return await self._reload(row.invoice_id)

    async def credit_note(
        self, invoice_id: str, reason: str, requested: list[tuple[str, int]]
    ) -> Invoice:
        if not reason.strip():
            raise InvalidArgument("reason is required for a credit note", field="reason")
        original = await self._invoice(invoice_id)
        if original.status not in (InvoiceStatus.FINALIZED.value, InvoiceStatus.PAID.value):
            raise FailedPrecondition(
                "only a finalized or paid invoice can be credited (this one is "
                f"{original.status}); a draft is simply recomputed",
                reason="INVOICE_NOT_FINALIZED",
                field="invoice_id",
            )
        lines = credit_note_lines(requested)
        note_totals = totals(lines, original.tax_rate_percent, original.tax_rounding)
        check_credit_fits(
            original.total_yen,
            await self.invoices.credited(original.invoice_id),
            note_totals.total_yen,
        )
        note_id = await self.invoices.insert_credit_note(
            original, note_totals, reason.strip()[:1000]
        )
        await self.invoices.add_lines(note_id, lines)
        number = document_number(
            InvoiceKind.CREDIT_NOTE, self.program_id, await self.invoices.next_number()
        )
        await self.invoices.set_status(
            note_id,
            status=InvoiceStatus.FINALIZED.value,
            number=number,
            finalized_at=datetime.now(UTC),
        )
        return await self._reload(note_id)

    async def _invoice(self, invoice_id: str) -> InvoiceRow:
        row = await self.invoices.get(_id(invoice_id), lock=True)
        if row.kind != InvoiceKind.INVOICE.value:
            raise FailedPrecondition(
                "this is a credit note, not an invoice", reason="NOT_AN_INVOICE", field="invoice_id"
            )
        return row

    async def _reload(self, invoice_id: str) -> Invoice:
        await self.uow.session.flush()
        row = await self.invoices.get(invoice_id)
        await self.uow.session.refresh(row)
        return await self.invoices.load(row)


def _id(invoice_id: str) -> str:
    if not invoice_id or len(invoice_id) > 32:
        raise InvalidArgument("invoice_id is required (as returned by the API)", field="invoice_id")
    return invoice_id
