"""Invoices, their lines and document numbers. Finalized rows are guarded by triggers."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import NotFound
from services.billing.adapters.orm import InvoiceCounterRow, InvoiceLineRow, InvoiceRow
from services.billing.domain.invoices import (
    Invoice,
    InvoiceFacts,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Totals,
)
from services.billing.domain.periods import Period

LIVE = text("kind = 'invoice' AND status <> 'void'")


def new_invoice_id() -> str:
    return uuid.uuid4().hex


class InvoiceRepository:
    def __init__(self, session: AsyncSession, program_id: str) -> None:
        self.session = session
        self.program_id = program_id

    async def live(self, period: Period, *, lock: bool = False) -> InvoiceRow | None:
        """The period's invoice that is not void (a draft, finalized or paid)."""
        stmt = select(InvoiceRow).where(
            InvoiceRow.program_id == self.program_id,
            InvoiceRow.period == str(period),
            InvoiceRow.kind == InvoiceKind.INVOICE.value,
            InvoiceRow.status != InvoiceStatus.VOID.value,
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def ensure_live(
        self, period: Period, time_zone: str, rate: int, rounding: str
    ) -> InvoiceRow:
        """The period's live invoice, locked; an empty draft is made when there is none."""
        await self.session.execute(
            pg_insert(InvoiceRow)
            .values(
                invoice_id=new_invoice_id(),
                program_id=self.program_id,
                kind=InvoiceKind.INVOICE.value,
                period=str(period),
                status=InvoiceStatus.DRAFT.value,
                subtotal_yen=0,
                tax_yen=0,
                total_yen=0,
                tax_rate_percent=rate,
                tax_rounding=rounding,
                time_zone=time_zone,
                facts={},
            )
            .on_conflict_do_nothing(index_elements=["program_id", "period"], index_where=LIVE)
        )
        row = await self.live(period, lock=True)
        assert row is not None  # inserted above or already there
        return row

    async def draft_periods_from(self, period: Period) -> list[Period]:
        rows = await self.session.scalars(
            select(InvoiceRow.period).where(
                InvoiceRow.program_id == self.program_id,
                InvoiceRow.kind == InvoiceKind.INVOICE.value,
                InvoiceRow.status == InvoiceStatus.DRAFT.value,
                InvoiceRow.period >= str(period),
            )
        )
        return sorted(Period.parse(p) for p in rows)

    async def live_periods(self) -> set[Period]:
        rows = await self.session.scalars(
            select(InvoiceRow.period).where(
                InvoiceRow.program_id == self.program_id,
                InvoiceRow.kind == InvoiceKind.INVOICE.value,
                InvoiceRow.status != InvoiceStatus.VOID.value,
            )
        )
        return {Period.parse(p) for p in rows}

    async def get(
        self, invoice_id: str, *, lock: bool = False, field: str = "invoice_id"
    ) -> InvoiceRow:
        stmt = select(InvoiceRow).where(
            InvoiceRow.program_id == self.program_id, InvoiceRow.invoice_id == invoice_id
        )
        if lock:
            stmt = stmt.with_for_update()
        row = await self.session.scalar(stmt)
        if row is None:
            raise NotFound(
                f"invoice {invoice_id!r} does not exist", reason="INVOICE_NOT_FOUND", field=field
            )
        return row

    async def write_draft(
        self,
        row: InvoiceRow,
        lines: list[InvoiceLine],
        totals: Totals,
        facts: InvoiceFacts,
        rate: int,
        rounding: str,
        time_zone: str,
    ) -> None:
        await self.session.execute(
            delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id == row.invoice_id)
        )
        await self.add_lines(row.invoice_id, lines)
        await self.session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.invoice_id == row.invoice_id)
            .values(
                subtotal_yen=totals.subtotal_yen,
                tax_yen=totals.tax_yen,
                total_yen=totals.total_yen,
                tax_rate_percent=rate,
                tax_rounding=rounding,
                time_zone=time_zone,
                facts=facts.to_json(),
            )
        )
        await self.session.refresh(row)

    async def add_lines(self, invoice_id: str, lines: list[InvoiceLine]) -> None:
        if not lines:
            return
        await self.session.execute(
            insert(InvoiceLineRow),
            [
                {
                    "invoice_id": invoice_id,
                    "line_no": no,
                    "kind": line.kind.value,
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_yen": line.unit_yen,
                    "amount_yen": line.amount_yen,
                }
                for no, line in enumerate(lines, start=1)
            ],
        )

    async def insert_credit_note(self, original: InvoiceRow, totals: Totals, reason: str) -> str:
        invoice_id = new_invoice_id()
        await self.session.execute(
            insert(InvoiceRow).values(
                invoice_id=invoice_id,
                program_id=self.program_id,
                kind=InvoiceKind.CREDIT_NOTE.value,
                period=original.period,
                status=InvoiceStatus.DRAFT.value,
                corrects_invoice_id=original.invoice_id,
                subtotal_yen=totals.subtotal_yen,
                tax_yen=totals.tax_yen,
                total_yen=totals.total_yen,
                tax_rate_percent=original.tax_rate_percent,
                tax_rounding=original.tax_rounding,
                time_zone=original.time_zone,
                facts={},
                reason=reason,
            )
        )
        return invoice_id

    async def next_number(self) -> int:
        stmt = pg_insert(InvoiceCounterRow).values(program_id=self.program_id, last_number=1)
        number = await self.session.scalar(
            stmt.on_conflict_do_update(
                index_elements=["program_id"],
                set_={"last_number": InvoiceCounterRow.last_number + 1},
            ).returning(InvoiceCounterRow.last_number)
        )
        return int(number or 0)

    async def set_status(self, invoice_id: str, **values: object) -> None:
        await self.session.execute(
            update(InvoiceRow).where(InvoiceRow.invoice_id == invoice_id).values(**values)
        )

    async def credited(self, invoice_id: str) -> int:
        """The total of live credit notes against an invoice (0 or negative)."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(InvoiceRow.total_yen), 0)).where(
                InvoiceRow.program_id == self.program_id,
                InvoiceRow.corrects_invoice_id == invoice_id,
                InvoiceRow.status != InvoiceStatus.VOID.value,
            )
        )
        return int(total or 0)

    async def page(
        self, statuses: list[str], after: tuple[str, str] | None, size: int
    ) -> list[InvoiceRow]:
        """Newest period first, then by id; `after` is the last (period, id) seen."""
        stmt = select(InvoiceRow).where(InvoiceRow.program_id == self.program_id)
        if statuses:
            stmt = stmt.where(InvoiceRow.status.in_(statuses))
        if after is not None:
            period, invoice_id = after
            stmt = stmt.where(
                (InvoiceRow.period < period)
                | ((InvoiceRow.period == period) & (InvoiceRow.invoice_id > invoice_id))
            )
        stmt = stmt.order_by(InvoiceRow.period.desc(), InvoiceRow.invoice_id).limit(size)
        return list(await self.session.scalars(stmt))

    async def load(self, row: InvoiceRow) -> Invoice:
        lines = await self.session.scalars(
            select(InvoiceLineRow)
            .where(InvoiceLineRow.invoice_id == row.invoice_id)
            .order_by(InvoiceLineRow.line_no)
        )
        corrects_number = None
        if row.corrects_invoice_id:
            corrects_number = await self.session.scalar(
                select(InvoiceRow.number).where(InvoiceRow.invoice_id == row.corrects_invoice_id)
            )
        kind = InvoiceKind(row.kind)
        return Invoice(
            invoice_id=row.invoice_id,
            program_id=row.program_id,
            kind=kind,
            status=InvoiceStatus(row.status),
            period=Period.parse(row.period),
            number=row.number,
            time_zone=row.time_zone,
            lines=tuple(
                InvoiceLine(LineKind(x.kind), x.description, x.quantity, x.unit_yen, x.amount_yen)
                for x in lines
            ),
            totals=Totals(row.subtotal_yen, row.tax_yen, row.total_yen),
            tax_rate_percent=row.tax_rate_percent,
            tax_rounding=row.tax_rounding,
            facts=InvoiceFacts.from_json(row.facts or {}),
            created_at=row.created_at,
            finalized_at=row.finalized_at,
            paid_at=row.paid_at,
            payment_reference=row.payment_reference,
            voided_at=row.voided_at,
            void_reason=row.void_reason,
            corrects_invoice_id=row.corrects_invoice_id,
            corrects_number=corrects_number,
            reason=row.reason,
            credited_yen=(
                await self.credited(row.invoice_id) if kind is InvoiceKind.INVOICE else 0
            ),
        )
