"""Draft invoices: which period a charge is billed on, and recomputing drafts from the facts.

Drafts are recomputed in the same transaction as the events that changed their facts, so a
draft always matches the events billing has applied. A consumer applying a batch of events
defers the recomputes (`PendingRecomputes`) and runs each program's once, from the earliest
period the batch touched, before the batch commits: a backlog no longer rebuilds the month's
draft from all its charges once per event. The period's invoice row is locked
first, so a concurrent FinalizeInvoice either sees the new charge or the charge moves on to
the next period: never a charge on a finalized invoice it is not printed on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from runtime.programs.spec import ProgramSpec
from services.billing.adapters.invoice_repository import InvoiceRepository
from services.billing.adapters.orm import InvoiceRow
from services.billing.adapters.repository import BillingRepository
from services.billing.domain.invoices import (
    InvoiceStatus,
    PeriodFacts,
    draft_lines,
    facts_of,
    totals,
)
from services.billing.domain.periods import Period, periods_between, waiver_window
from services.billing.service_layer.plans import plan_of


class Drafts:
    def __init__(
        self,
        repo: BillingRepository,
        invoices: InvoiceRepository,
        spec: ProgramSpec,
        pending: PendingRecomputes | None = None,
    ):
        self.repo = repo
        self.invoices = invoices
        self.spec = spec
        self.plan = plan_of(spec)
        self.pending = pending

    async def live(self, period: Period) -> InvoiceRow:
        """The period's live invoice, locked. A batch remembers the rows it locked: until it
        commits nobody can finalize them, so their status holds."""
        key = (self.repo.program_id, period)
        if self.pending is not None and key in self.pending.live_rows:
            return self.pending.live_rows[key]
        row = await self.invoices.ensure_live(
            period, self.spec.time_zone, self.plan.tax_rate_percent, self.plan.tax_rounding
        )
        if self.pending is not None:
            self.pending.live_rows[key] = row
        return row

    async def billing_period(self, occurred: Period) -> Period:
        """The first period from `occurred` on whose invoice is still a draft."""
        period = occurred
        while (await self.live(period)).status != InvoiceStatus.DRAFT.value:
            period = period.next()
        return period

    async def contract_start(self) -> date:
        if self.plan.contract_start is not None:
            return self.plan.contract_start
        started = await self.repo.started_on()
        return started or datetime.now(UTC).astimezone(self.spec.zone).date()

    async def first_period(self) -> Period:
        start = await self.contract_start()
        return Period(start.year, start.month)

    async def recompute(self, period: Period) -> InvoiceRow:
        """Bring the period's draft up to date (a finalized invoice is left as it is)."""
        row = await self.live(period)
        if row.status != InvoiceStatus.DRAFT.value:
            return row
        zone = self.spec.zone
        start, end = period.start(zone), period.end(zone)
        contract_start = await self.contract_start()
        window = waiver_window(period, zone, self.plan.waiver_window, contract_start)
        facts = PeriodFacts(
            period=period,
            issued_ids=await self.repo.issued_ids(start, end),
            charges=tuple(await self.repo.charge_groups(period)),
            window_grants_yen=await self.repo.grants_yen(*window),
            first_invoice=period == Period(contract_start.year, contract_start.month),
        )
        lines = draft_lines(self.plan, facts)
        await self.invoices.write_draft(
            row,
            lines,
            totals(lines, self.plan.tax_rate_percent, self.plan.tax_rounding),
            facts_of(self.plan, facts, window),
            self.plan.tax_rate_percent,
            self.plan.tax_rounding,
            self.spec.time_zone,
        )
        return row

    async def recompute_from(self, period: Period) -> None:
        """Recompute every draft from `period` on: member counts and the waiver's window
        reach forward. Deferred to the end of the batch when there is one."""
        if self.pending is not None:
            self.pending.note(self, period)
            return
        await self.recompute_all_from(period)

    async def recompute_all_from(self, period: Period) -> None:
        for draft in await self.invoices.draft_periods_from(period):
            await self.recompute(draft)

    async def ensure_up_to(self, last: Period) -> None:
        """Every period from the program's first to `last` has an invoice (a draft at least),
        so a month without events is still billed its service fee."""
        first = await self.first_period()
        existing = await self.invoices.live_periods()
        for period in periods_between(first, last)[-120:]:
            if period not in existing:
                await self.recompute(period)


class PendingRecomputes:
    """The drafts a batch of events changed: per program, the earliest period touched. Flushed
    inside the batch's transaction, so drafts still match the events at every commit."""

    def __init__(self) -> None:
        self._earliest: dict[str, tuple[Period, Drafts]] = {}
        self.live_rows: dict[tuple[str, Period], InvoiceRow] = {}

    def forget_rows(self) -> None:
        """After a savepoint rolled back: rows it made may be gone."""
        self.live_rows.clear()

    def note(self, drafts: Drafts, period: Period) -> None:
        program_id = drafts.repo.program_id
        noted = self._earliest.get(program_id)
        self._earliest[program_id] = (period if noted is None else min(noted[0], period), drafts)

    async def flush(self) -> None:
        for period, drafts in self._earliest.values():
            await drafts.recompute_all_from(period)
        self._earliest.clear()
        self.live_rows.clear()


def current_period(spec: ProgramSpec, now: datetime | None = None) -> Period:
    return Period.containing(now or datetime.now(UTC), spec.zone)
