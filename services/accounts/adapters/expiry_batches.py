"""The expiry sweeper's batch: due lots and their idle accounts, locked without ever waiting.

Three statements per batch, whatever its size:

1. pick up to `limit` due lots, soonest first, `FOR UPDATE SKIP LOCKED` (two sweepers take
   different lots instead of queueing behind each other);
2. lock the accounts those lots belong to, `SKIP LOCKED`: an account a spend, a hold or
   another sweeper holds right now is left for the next pass (a spend locks its account
   before it touches lots, so under the account lock the lots cannot change);
3. read every due lot of the accounts locked (not only those picked: each account gets one
   expiry transaction and one `points_expired` per pass), again `SKIP LOCKED` so a lot another
   sweeper picked is left to it rather than waited for.

Nothing here waits for a lock, so the sweep cannot deadlock with spends or with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import fetch_all
from services.accounts.domain.model import Account, AccountStatus, Lot

# Fixed statements to psycopg (runtime/db/driver.py): a batch reads 5,000 lots, and
# SQLAlchemy's result rows cost more per lot than the rest of the sweep's reading.
_PICK = (
    "SELECT account_id FROM lots WHERE remaining > 0 AND expires_at <= %(now)s "
    "ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
_LOCK_ACCOUNTS = (
    "SELECT account_id, program_id, status, available, held, deficit, merged_into "
    "FROM point_accounts WHERE account_id = ANY(CAST(%(ids)b AS text[])) "
    "ORDER BY account_id FOR UPDATE SKIP LOCKED"
)
# Columns in the order of `Lot`'s fields, then the lot's program.
_DUE_LOTS = (
    "SELECT lot_id, account_id, kind, amount, remaining, earned_at, expires_at, "
    "expired_amount, source_tx_id, program_id FROM lots "
    "WHERE account_id = ANY(CAST(%(ids)b AS text[])) AND remaining > 0 "
    "AND expires_at <= %(now)s FOR UPDATE SKIP LOCKED"
)


@dataclass
class ProgramDue:
    """One program's share of a batch: its locked accounts and their due lots."""

    accounts: dict[str, Account] = field(default_factory=dict)
    lots: list[Lot] = field(default_factory=list)


@dataclass(frozen=True)
class DueBatch:
    picked: int  # due lots step 1 returned (a short batch means the backlog is done)
    by_program: dict[str, ProgramDue]


async def lock_due_batch(session: AsyncSession, now: datetime, limit: int) -> DueBatch:
    picked = [row[0] for row in await fetch_all(session, _PICK, {"now": now, "limit": limit})]
    if not picked:
        return DueBatch(0, {})
    by_program: dict[str, ProgramDue] = {}
    account_program: dict[str, str] = {}
    rows = await fetch_all(session, _LOCK_ACCOUNTS, {"ids": list(set(picked))})
    for account_id, program_id, status, available, held, deficit, merged_into in rows:
        due = by_program.get(program_id)
        if due is None:
            due = by_program[program_id] = ProgramDue()
        due.accounts[account_id] = Account(
            account_id, program_id, AccountStatus(status), available, held, deficit, merged_into
        )
        account_program[account_id] = program_id
    if not account_program:
        return DueBatch(len(picked), {})
    lots = await fetch_all(session, _DUE_LOTS, {"ids": list(account_program), "now": now})
    for *fields, program_id in lots:
        lot = Lot(*fields)
        # Every row carries its program: a lot never expires against another program's account.
        if account_program[lot.account_id] == program_id:
            by_program[program_id].lots.append(lot)
    return DueBatch(len(picked), by_program)
