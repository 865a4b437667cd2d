"""Loads ledger state for the domain's planners and persists the plans they return.

Locks: an operation locks the account rows it changes (`SELECT ... FOR UPDATE`, several in
ascending id order so two transfers can never deadlock), then reads their lots. Two spends on
one account therefore serialise on the account row and can never overdraw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import fetch_all
from runtime.errors import NotFound
from services.accounts.adapters.ledger_writes import HOLD_COLUMNS, hold_row, plan_writer
from services.accounts.adapters.orm import (
    AccountRow,
    HoldAllocationRow,
    HoldRow,
    LotDrawRow,
    LotRow,
    PostingRow,
    TransactionRow,
)
from services.accounts.domain.balances import Balance, balance_from_groups
from services.accounts.domain.model import (
    Account,
    AccountRef,
    AccountStatus,
    Hold,
    HoldStatus,
    Lot,
    LotDraw,
    Posting,
    Source,
    SourceType,
    Transaction,
    TxType,
)
from services.accounts.domain.plan import LedgerPlan

HOLD_FIELDS = tuple(name for name, _ in HOLD_COLUMNS)

ACCOUNT_COLUMNS = "account_id, program_id, status, available, held, deficit, merged_into"
# Ascending id order: two operations locking the same accounts can never deadlock.
_LOCK_ACCOUNTS = (
    f"SELECT {ACCOUNT_COLUMNS} FROM point_accounts "
    "WHERE program_id = %(program_id)s AND account_id = ANY(%(ids)b) "
    "ORDER BY account_id FOR UPDATE"
)
_LOCK_IDLE_ACCOUNTS = _LOCK_ACCOUNTS + " SKIP LOCKED"

# Columns in the order of `Lot`'s fields.
LOT_COLUMNS = (
    "lot_id, account_id, kind, amount, remaining, earned_at, expires_at, expired_amount, "
    "source_tx_id"
)
_LIVE_LOTS = (
    f"SELECT {LOT_COLUMNS} FROM lots "
    "WHERE program_id = %(program_id)s AND account_id = %(account_id)s AND remaining > 0"
)
_LIVE_LOTS_MANY = (
    f"SELECT {LOT_COLUMNS} FROM lots "
    "WHERE program_id = %(program_id)s AND account_id = ANY(%(ids)b) AND remaining > 0"
)
_GET_ACCOUNT = (
    f"SELECT {ACCOUNT_COLUMNS} FROM point_accounts "
    "WHERE program_id = %(program_id)s AND account_id = %(account_id)s"
)
# The live lots grouped by kind and expiry moment (the partial index ix_lots_account_live).
_LIVE_GROUPS = (
    "SELECT kind, expires_at, sum(remaining) AS amount FROM lots "
    "WHERE program_id = %(program_id)s AND account_id = %(account_id)s AND remaining > 0 "
    "AND (expires_at IS NULL OR expires_at > %(now)s) GROUP BY kind, expires_at"
)
# The same for many accounts at once (a group-committed batch of credits).
_LIVE_GROUPS_MANY = (
    "SELECT account_id, kind, expires_at, sum(remaining) AS amount FROM lots "
    "WHERE program_id = %(program_id)s AND account_id = ANY(%(ids)b) AND remaining > 0 "
    "AND (expires_at IS NULL OR expires_at > %(now)s) GROUP BY account_id, kind, expires_at"
)
# The account's cached held/deficit and its lot groups in one round trip (no lots: one row
# with NULL groups; no account: no row).
_BALANCE = (
    "SELECT a.held, a.deficit, g.kind, g.expires_at, g.amount FROM point_accounts a "
    f"LEFT JOIN LATERAL ({_LIVE_GROUPS}) g ON true "
    "WHERE a.program_id = %(program_id)s AND a.account_id = %(account_id)s"
)


def _no_account(account_id: str) -> NotFound:
    return NotFound(
        f"member {account_id} does not exist in this program",
        reason="MEMBER_NOT_FOUND",
        field="member_id",
    )


def to_account(row: AccountRow) -> Account:
    return Account(
        account_id=row.account_id,
        program_id=row.program_id,
        status=AccountStatus(row.status),
        available=row.available,
        held=row.held,
        deficit=row.deficit,
        merged_into=row.merged_into,
    )


def account_of(row: Sequence[Any]) -> Account:
    """A row of `ACCOUNT_COLUMNS` -> the domain's account."""
    account_id, program_id, status, available, held, deficit, merged_into = row
    return Account(
        account_id, program_id, AccountStatus(status), available, held, deficit, merged_into
    )


def to_lot(row: LotRow) -> Lot:
    return Lot(
        lot_id=row.lot_id,
        account_id=row.account_id,
        kind=row.kind,
        amount=row.amount,
        remaining=row.remaining,
        earned_at=row.earned_at,
        expires_at=row.expires_at,
        expired_amount=row.expired_amount,
        source_tx_id=row.source_tx_id,
    )


class LedgerRepository:
    def __init__(self, session: AsyncSession, program_id: str) -> None:
        self.session = session
        self.program_id = program_id

    # -- reads -----------------------------------------------------------------------------

    async def lock_account(self, account_id: str) -> Account:
        accounts = await self.lock_accounts([account_id])
        return accounts[account_id]

    async def lock_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """Lock the accounts in ascending id order; NOT_FOUND for any the program lacks."""
        wanted = sorted(set(account_ids))
        found = await self._accounts(_LOCK_ACCOUNTS, wanted)
        for account_id in wanted:
            if account_id not in found:
                raise _no_account(account_id)
        return found

    async def lock_accounts_present(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """Like lock_accounts, but missing accounts are left out (a batch rejects them per
        entry instead of failing whole)."""
        return await self._accounts(_LOCK_ACCOUNTS, sorted(set(account_ids)))

    async def lock_idle_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """Lock the accounts nobody else holds right now (`SKIP LOCKED`): a sweeper takes the
        idle ones and comes back for busy ones on its next pass instead of queueing."""
        return await self._accounts(_LOCK_IDLE_ACCOUNTS, sorted(set(account_ids)))

    async def _accounts(self, statement: str, ids: list[str]) -> dict[str, Account]:
        rows = await fetch_all(self.session, statement, {"program_id": self.program_id, "ids": ids})
        return {row[0]: account_of(row) for row in rows}

    async def balance(
        self, account_id: str, now: datetime, account: Account | None = None
    ) -> Balance:
        """The balance as of now, aggregated in SQL (one row per kind and expiry moment), so
        its cost does not grow with the number of lots an account ever received. `account`:
        the account as the caller already knows it (a plan's result): then only the lots are
        read, else the account and its lots in one statement."""
        params = {"program_id": self.program_id, "account_id": account_id, "now": now}
        if account is not None:
            held, deficit = account.held, account.deficit
            groups = await fetch_all(self.session, _LIVE_GROUPS, params)
        else:
            rows = await fetch_all(self.session, _BALANCE, params)
            if not rows:
                raise _no_account(account_id)
            held, deficit = rows[0][0], rows[0][1]
            groups = [row[2:] for row in rows if row[2] is not None]
        return _balance_of(groups, held, deficit)

    async def balances(self, accounts: Sequence[Account], now: datetime) -> dict[str, Balance]:
        """`balance` of many accounts the caller already knows (a batch plan's results), in
        one statement."""
        params = {"program_id": self.program_id, "ids": [a.account_id for a in accounts]}
        rows = await fetch_all(self.session, _LIVE_GROUPS_MANY, {**params, "now": now})
        groups: dict[str, list[Any]] = {a.account_id: [] for a in accounts}
        for row in rows:
            groups[row[0]].append(row[1:])
        return {
            a.account_id: _balance_of(groups[a.account_id], a.held, a.deficit) for a in accounts
        }

    async def get_account(self, account_id: str) -> Account:
        rows = await fetch_all(
            self.session, _GET_ACCOUNT, {"program_id": self.program_id, "account_id": account_id}
        )
        if not rows:
            raise _no_account(account_id)
        return account_of(rows[0])

    async def live_lots(self, account_id: str) -> list[Lot]:
        rows = await fetch_all(
            self.session, _LIVE_LOTS, {"program_id": self.program_id, "account_id": account_id}
        )
        return [Lot(*row) for row in rows]

    async def live_lots_many(self, account_ids: Sequence[str]) -> dict[str, list[Lot]]:
        """`live_lots` of many accounts in one statement (every account given has a list)."""
        lots: dict[str, list[Lot]] = {account_id: [] for account_id in account_ids}
        params = {"program_id": self.program_id, "ids": list(account_ids)}
        for row in await fetch_all(self.session, _LIVE_LOTS_MANY, params):
            lots[row[1]].append(Lot(*row))
        return lots

    async def all_lots(self, account_id: str) -> list[Lot]:
        """Every lot of the account, spent ones included (a merge moves them all, so a later
        reversal of a spend restores its lots on the surviving account)."""
        rows = await self.session.scalars(
            select(LotRow).where(
                LotRow.program_id == self.program_id, LotRow.account_id == account_id
            )
        )
        return [to_lot(r) for r in rows]

    async def lots_by_id(self, lot_ids: Iterable[str]) -> list[Lot]:
        ids = list(set(lot_ids))
        if not ids:
            return []
        rows = await self.session.scalars(
            select(LotRow).where(LotRow.program_id == self.program_id, LotRow.lot_id.in_(ids))
        )
        return [to_lot(r) for r in rows]

    async def lots_for(self, account_id: str, extra_ids: Iterable[str] = ()) -> list[Lot]:
        """Live lots of the account plus specific lots (held or spent ones) by id."""
        lots = {lot.lot_id: lot for lot in await self.live_lots(account_id)}
        for lot in await self.lots_by_id(i for i in extra_ids if i not in lots):
            lots[lot.lot_id] = lot
        return list(lots.values())

    async def hold(self, hold_id: str, *, lock: bool = True) -> Hold:
        query = select(HoldRow).where(
            HoldRow.program_id == self.program_id, HoldRow.hold_id == hold_id
        )
        row = await self.session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(
                f"hold {hold_id} does not exist", reason="HOLD_NOT_FOUND", field="hold_id"
            )
        allocations = await self.session.scalars(
            select(HoldAllocationRow).where(HoldAllocationRow.hold_id == hold_id)
        )
        return self._to_hold(row, [LotDraw(a.lot_id, a.amount) for a in allocations])

    async def open_holds(self, account_id: str) -> list[Hold]:
        rows = (
            await self.session.scalars(
                select(HoldRow).where(
                    HoldRow.program_id == self.program_id,
                    HoldRow.account_id == account_id,
                    HoldRow.status == HoldStatus.OPEN.value,
                )
            )
        ).all()
        return [await self.hold(r.hold_id, lock=False) for r in rows]

    async def transaction(self, tx_id: str) -> Transaction:
        row = await self.session.scalar(
            select(TransactionRow).where(
                TransactionRow.program_id == self.program_id, TransactionRow.tx_id == tx_id
            )
        )
        if row is None:
            raise NotFound(
                f"transaction {tx_id} does not exist in this program",
                reason="TRANSACTION_NOT_FOUND",
                field="transaction_id",
            )
        postings = await self.session.scalars(select(PostingRow).where(PostingRow.tx_id == tx_id))
        draws = (
            await self.session.scalars(select(LotDrawRow).where(LotDrawRow.tx_id == tx_id))
        ).all()
        created = await self.session.scalars(
            select(LotRow.lot_id).where(LotRow.source_tx_id == tx_id).order_by(LotRow.lot_id)
        )
        return Transaction(
            tx_id=row.tx_id,
            program_id=row.program_id,
            type=TxType(row.type),
            account_id=row.account_id,
            amount=row.amount,
            postings=tuple(
                Posting(AccountRef(p.account_type, p.account_id), p.amount)  # type: ignore[arg-type]
                for p in postings
            ),
            occurred_at=row.occurred_at,
            source=Source(SourceType(row.source_type), row.source_id),
            reason=row.reason,
            actor=row.actor,
            idempotency_key=row.idempotency_key,
            kind=row.kind,
            sponsor_funded=row.sponsor_funded,
            spent=tuple(LotDraw(d.lot_id, d.amount) for d in draws if d.role == "spent"),
            expired=tuple(LotDraw(d.lot_id, d.amount) for d in draws if d.role == "expired"),
            created_lot_ids=tuple(created),
            counterparty_account_id=row.counterparty_account_id,
            hold_id=row.hold_id,
            reverses_tx_id=row.reverses_tx_id,
            reversed_amount=row.reversed_amount,
            shortfall=row.shortfall,
        )

    def _to_hold(self, row: HoldRow, allocations: Sequence[LotDraw]) -> Hold:
        return Hold(
            hold_id=row.hold_id,
            account_id=row.account_id,
            program_id=row.program_id,
            amount=row.amount,
            allocations=tuple(allocations),
            created_at=row.created_at,
            expires_at=row.expires_at,
            source=Source(SourceType(row.source_type), row.source_id),
            reason=row.reason,
            actor=row.actor,
            idempotency_key=row.idempotency_key,
            status=HoldStatus(row.status),
            settled_at=row.settled_at,
            captured_amount=row.captured_amount,
            settle_tx_id=row.settle_tx_id,
        )

    # -- writes ----------------------------------------------------------------------------

    async def save(self, plan: LedgerPlan) -> None:
        """Persist everything a plan changes (the caller's transaction commits it): its
        inserts and its lot and account updates as one set-based statement, whatever the
        number of rows; then the rare per-row updates of holds and reversed originals."""
        await plan_writer(plan, self.program_id).execute(self.session)
        for hold in plan.hold_updates:
            values = dict(zip(HOLD_FIELDS, hold_row(hold), strict=True))
            del values["hold_id"]
            await self.session.execute(
                update(HoldRow).where(HoldRow.hold_id == hold.hold_id).values(**values)
            )
        for tx in plan.transaction_updates:
            await self.session.execute(
                update(TransactionRow)
                .where(TransactionRow.tx_id == tx.tx_id)
                .values(reversed_amount=tx.reversed_amount)
            )


def _balance_of(groups: Iterable[Sequence[Any]], held: int, deficit: int) -> Balance:
    """A balance from its live lot groups as SQL returns them: the sums come as numeric."""
    return balance_from_groups(
        ((kind, expires_at, int(amount)) for kind, expires_at, amount in groups), held, deficit
    )
