"""Background ledger work: expire due lots, release holds nobody settled in time.

Both are idempotent and restartable: each pass takes a batch of due work, locks the accounts it
touches (idle ones only, in id order, the same order every spend uses, so no deadlock), re-reads
their due lots under the lock and commits. A crash loses at most an uncommitted batch, which
the next pass finds again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from runtime.db.unit_of_work import UnitOfWork
from runtime.telemetry.metrics import count_ledger_operations
from services.accounts.adapters.event_mapping import publish_events
from services.accounts.adapters.expiry_batches import lock_due_batch
from services.accounts.adapters.ledger_repository import LedgerRepository, to_lot
from services.accounts.adapters.orm import HoldRow, LotRow
from services.accounts.adapters.reminder_tables import ExpiryReminderRow
from services.accounts.domain.expiry import plan_expire
from services.accounts.domain.holds import plan_release_timed_out
from services.accounts.domain.reminders import expiring_soon


@dataclass(frozen=True)
class SweepResult:
    found: int  # due items the batch query returned
    done: int  # lots expired / holds released in this pass


async def expire_due_lots(uow: UnitOfWork, now: datetime, batch_size: int) -> SweepResult:
    """Expire one batch: lock due lots and their idle accounts (see `lock_due_batch`), plan
    one expiry per account, write the batch with one set-based statement and its events with
    one multi-row INSERT per program."""
    batch = await lock_due_batch(uow.session, now, batch_size)
    expired = 0
    for program_id, due in sorted(batch.by_program.items()):
        plan = plan_expire(due.lots, due.accounts, now)
        await LedgerRepository(uow.session, program_id).save(plan)
        await publish_events(uow, program_id, plan.events)
        count_ledger_operations(program_id, (t.type.value for t in plan.transactions))
        expired += len(due.lots)
    return SweepResult(found=batch.picked, done=expired)


async def expiry_backlog(uow: UnitOfWork, now: datetime) -> int:
    """Lots past their expiry that still hold points (the sweeper's work left)."""
    count = await uow.session.scalar(
        select(func.count()).where(LotRow.remaining > 0, LotRow.expires_at <= now)
    )
    return int(count or 0)


async def release_timed_out_holds(uow: UnitOfWork, now: datetime, batch_size: int) -> SweepResult:
    due = (
        await uow.session.execute(
            select(HoldRow.program_id, HoldRow.hold_id, HoldRow.account_id)
            .where(HoldRow.status == "open", HoldRow.expires_at <= now)
            .order_by(HoldRow.expires_at)
            .limit(batch_size)
        )
    ).all()
    released = 0
    for program_id, hold_id, account_id in due:
        repo = LedgerRepository(uow.session, program_id)
        accounts = await repo.lock_idle_accounts([account_id])
        if not accounts:
            continue  # busy: maybe being captured right now; next pass
        hold = await repo.hold(hold_id)
        if hold.status.is_terminal:
            continue
        lots = await repo.lots_by_id(a.lot_id for a in hold.allocations)
        plan = plan_release_timed_out(hold, accounts[account_id], lots, now)
        await repo.save(plan)
        await publish_events(uow, program_id, plan.events)
        count_ledger_operations(program_id, (t.type.value for t in plan.transactions))
        released += 1
    return SweepResult(found=len(due), done=released)


async def announce_expiring_soon(
    uow: UnitOfWork, program_id: str, within_days: int, now: datetime, batch_size: int
) -> SweepResult:
    """Announce `points_expiring_soon` for live lots expiring within the program's horizon
    that no earlier pass announced (each lot once)."""
    announced = select(ExpiryReminderRow.lot_id).where(ExpiryReminderRow.lot_id == LotRow.lot_id)
    rows = (
        await uow.session.scalars(
            select(LotRow)
            .where(
                LotRow.program_id == program_id,
                LotRow.remaining > 0,
                LotRow.expires_at > now,
                LotRow.expires_at <= now + timedelta(days=within_days),
                ~announced.exists(),
            )
            .order_by(LotRow.expires_at)
            .limit(batch_size)
        )
    ).all()
    reminders = expiring_soon(program_id, (to_lot(r) for r in rows), now, within_days)
    await publish_events(uow, program_id, reminders)
    if rows:
        await uow.session.execute(
            insert(ExpiryReminderRow).on_conflict_do_nothing(),
            [{"lot_id": r.lot_id, "program_id": program_id} for r in rows],
        )
    return SweepResult(found=len(rows), done=len(reminders))
