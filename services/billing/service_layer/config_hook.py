"""Applying a program config revision: billing starts for the program (its first period is
the month billing first saw it, unless the plan names a contract start), and open drafts are
recomputed with the new plan (a finalized invoice never changes). Events of the program that
arrived before its first config were parked: they are applied now, in stream order, in the
same transaction (the inbox keeps each one exactly-once)."""

from __future__ import annotations

from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork
from runtime.programs.record import ProgramRecord
from runtime.programs.spec import parse_spec
from services.billing.adapters.invoice_repository import InvoiceRepository
from services.billing.adapters.repository import BillingRepository
from services.billing.service_layer.drafts import Drafts
from services.billing.service_layer.intake import replay_all_parked


async def apply_program(uow: UnitOfWork, record: ProgramRecord) -> None:
    spec = parse_spec(record.spec, resource_name=record.program_id)
    repo = BillingRepository(uow.session, record.program_id)
    await repo.ensure_program(datetime.now(UTC).astimezone(spec.zone).date())
    drafts = Drafts(repo, InvoiceRepository(uow.session, record.program_id), spec)
    await drafts.recompute_from(await drafts.first_period())
    await replay_all_parked(uow, record.program_id, spec)
