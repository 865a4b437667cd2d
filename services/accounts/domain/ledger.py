"""An in-memory ledger that applies plans to dicts: the executable specification the property
tests drive, and a model of what the SQL adapter must do with a plan."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from runtime.errors import FailedPrecondition, NotFound
from services.accounts.domain.adjustments import plan_adjust
from services.accounts.domain.balances import Balance, balance_of
from services.accounts.domain.commands import (
    AdjustPoints,
    CaptureHold,
    Credit,
    Debit,
    MergeAccounts,
    PlaceHold,
    ReleaseHold,
    Reverse,
    Transfer,
)
from services.accounts.domain.crediting import BatchCreditPlan, plan_batch_credit, plan_credit
from services.accounts.domain.events import LedgerEvent
from services.accounts.domain.expiry import plan_expire
from services.accounts.domain.holds import (
    plan_capture,
    plan_hold,
    plan_release,
    plan_release_timed_out,
)
from services.accounts.domain.invariants import check_invariants
from services.accounts.domain.merging import plan_merge
from services.accounts.domain.model import (
    Account,
    AccountStatus,
    Hold,
    HoldStatus,
    Lot,
    Transaction,
)
from services.accounts.domain.plan import LedgerPlan, combine
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.reversal import plan_reverse, reversal_lot_ids
from services.accounts.domain.spending import plan_debit
from services.accounts.domain.transfers import plan_transfer


class Ledger:
    def __init__(self, program_id: str = "program", policy: LedgerPolicy | None = None) -> None:
        self.program_id = program_id
        self.policy = policy or LedgerPolicy()
        self.accounts: dict[str, Account] = {}
        self.lots: dict[str, Lot] = {}
        self.holds: dict[str, Hold] = {}
        self.transactions: dict[str, Transaction] = {}
        self.events: list[LedgerEvent] = []
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"id{next(self._ids)}"

    # -- reads ---------------------------------------------------------------------------

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise NotFound(
                f"account {account_id} not found", reason="ACCOUNT_NOT_FOUND", field="account_id"
            ) from None

    def lots_of(self, account_id: str) -> list[Lot]:
        return [lot for lot in self.lots.values() if lot.account_id == account_id]

    def open_holds_of(self, account_id: str) -> list[Hold]:
        return [
            h
            for h in self.holds.values()
            if h.account_id == account_id and h.status is HoldStatus.OPEN
        ]

    def hold(self, hold_id: str) -> Hold:
        try:
            return self.holds[hold_id]
        except KeyError:
            raise NotFound(
                f"hold {hold_id} not found", reason="HOLD_NOT_FOUND", field="hold_id"
            ) from None

    def balance(self, account_id: str, now: datetime) -> Balance:
        account = self.account(account_id)
        return balance_of(
            self.lots_of(account_id), self.open_holds_of(account_id), now, deficit=account.deficit
        )

    def check_invariants(self) -> list[str]:
        return check_invariants(self.accounts, self.lots, self.holds, self.transactions)

    # -- writes ----------------------------------------------------------------------------

    def open_account(
        self, account_id: str, status: AccountStatus = AccountStatus.ACTIVE
    ) -> Account:
        account = Account(account_id, self.program_id, status)
        self.accounts[account_id] = account
        return account

    def set_status(self, account_id: str, status: AccountStatus) -> None:
        self.accounts[account_id] = replace(self.account(account_id), status=status)

    def apply(self, plan: LedgerPlan) -> LedgerPlan:
        """What the SQL adapter does in one database transaction (with the rows locked)."""
        for hold in plan.hold_updates:
            before = self.holds[hold.hold_id]
            # The single terminal state, as the database enforces it: only an open hold moves.
            if before.status is not HoldStatus.OPEN:
                raise FailedPrecondition(
                    f"hold {hold.hold_id} is already {before.status.value}",
                    reason="HOLD_ALREADY_SETTLED",
                )
        for tx in plan.transactions:
            if tx.tx_id in self.transactions:
                raise ValueError(f"transaction {tx.tx_id} written twice")
            self.transactions[tx.tx_id] = tx
        for tx in plan.transaction_updates:
            self.transactions[tx.tx_id] = tx
        for lot in (*plan.new_lots, *plan.lot_updates):
            self.lots[lot.lot_id] = lot
        for account in plan.account_updates:
            self.accounts[account.account_id] = account
        for hold in (*plan.new_holds, *plan.hold_updates):
            self.holds[hold.hold_id] = hold
        self.events.extend(plan.events)
        return plan

    def credit(self, cmd: Credit, now: datetime) -> LedgerPlan:
        plan = plan_credit(cmd, self.account(cmd.account_id), self.policy, now, self.new_id)
        return self.apply(plan)

    def batch_credit(self, cmds: Sequence[Credit], now: datetime) -> BatchCreditPlan:
        batch = plan_batch_credit(cmds, self.accounts, self.policy, now, self.new_id)
        self.apply(batch.plan)
        return batch

    def debit(self, cmd: Debit, now: datetime) -> LedgerPlan:
        account = self.account(cmd.account_id)
        plan = plan_debit(cmd, account, self.lots_of(account.account_id), now, self.new_id)
        return self.apply(plan)

    def adjust(self, cmd: AdjustPoints, now: datetime) -> LedgerPlan:
        account = self.account(cmd.account_id)
        lots = self.lots_of(account.account_id)
        return self.apply(plan_adjust(cmd, account, lots, self.policy, now, self.new_id))

    def place_hold(self, cmd: PlaceHold, now: datetime) -> LedgerPlan:
        account = self.account(cmd.account_id)
        lots = self.lots_of(account.account_id)
        return self.apply(plan_hold(cmd, account, lots, self.policy, now, self.new_id))

    def _hold_state(self, hold: Hold) -> tuple[Account, list[Lot]]:
        return self.account(hold.account_id), [self.lots[a.lot_id] for a in hold.allocations]

    def capture(self, cmd: CaptureHold, now: datetime) -> LedgerPlan:
        hold = self.hold(cmd.hold_id)
        account, lots = self._hold_state(hold)
        return self.apply(plan_capture(cmd, hold, account, lots, now, self.new_id))

    def release(self, cmd: ReleaseHold, now: datetime) -> LedgerPlan:
        hold = self.hold(cmd.hold_id)
        account, lots = self._hold_state(hold)
        return self.apply(plan_release(cmd, hold, account, lots, now, self.new_id))

    def release_timed_out_holds(self, now: datetime) -> LedgerPlan:
        plans = []
        for hold in list(self.holds.values()):
            if hold.status is HoldStatus.OPEN and hold.expires_at <= now:
                account, lots = self._hold_state(hold)
                plan = plan_release_timed_out(hold, account, lots, now, self.new_id)
                plans.append(self.apply(plan))
        return combine(plans)

    def reverse(self, cmd: Reverse, now: datetime) -> LedgerPlan:
        try:
            original = self.transactions[cmd.tx_id]
        except KeyError:
            raise NotFound(
                f"transaction {cmd.tx_id} not found", reason="TRANSACTION_NOT_FOUND", field="tx_id"
            ) from None
        wanted = set(reversal_lot_ids(original))
        owner = self.lots[next(iter(wanted))].account_id if wanted else original.account_id
        account = self.account(owner)
        lots = [
            lot
            for lot in self.lots.values()
            if lot.account_id == owner and (lot.lot_id in wanted or lot.remaining > 0)
        ]
        return self.apply(plan_reverse(cmd, original, account, lots, self.policy, now, self.new_id))

    def transfer(self, cmd: Transfer, now: datetime) -> LedgerPlan:
        sender, receiver = self.account(cmd.from_account_id), self.account(cmd.to_account_id)
        lots = self.lots_of(sender.account_id)
        return self.apply(plan_transfer(cmd, sender, lots, receiver, now, self.new_id))

    def merge(self, cmd: MergeAccounts, now: datetime) -> LedgerPlan:
        survivor = self.account(cmd.survivor_account_id)
        absorbed = self.account(cmd.absorbed_account_id)
        plan = plan_merge(
            cmd,
            survivor,
            [lot for lot in self.lots_of(survivor.account_id) if lot.remaining > 0],
            absorbed,
            self.lots_of(absorbed.account_id),
            self.open_holds_of(absorbed.account_id),
            now,
            self.new_id,
        )
        return self.apply(plan)

    def expire_due(self, now: datetime) -> LedgerPlan:
        due = [lot for lot in self.lots.values() if lot.remaining > 0 and lot.is_expired(now)]
        return self.apply(plan_expire(due, self.accounts, now, self.new_id))
