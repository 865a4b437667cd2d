"""Ledger handlers: load state, let the domain plan, persist the plan, announce its events.

Each takes a unit of work already inside a transaction (the caller commits via
`run_in_transaction`), the program's ledger policy and a domain command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import NotFound, TamaruError
from runtime.telemetry.metrics import count_ledger_operations
from services.accounts.adapters.event_mapping import publish_events
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.domain.adjustments import plan_adjust
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
from services.accounts.domain.holds import plan_capture, plan_hold, plan_release
from services.accounts.domain.merging import plan_merge
from services.accounts.domain.plan import LedgerPlan, combine
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.reversal import plan_reverse, reversal_lot_ids
from services.accounts.domain.spending import plan_debit
from services.accounts.domain.transfers import plan_transfer

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ledger:
    """The handlers for one program, bound to its policy and a clock."""

    program_id: str
    policy: LedgerPolicy
    clock: Clock = utc_now

    def repo(self, uow: UnitOfWork) -> LedgerRepository:
        return LedgerRepository(uow.session, self.program_id)

    async def _finish(self, uow: UnitOfWork, plan: LedgerPlan) -> LedgerPlan:
        await self.repo(uow).save(plan)
        await publish_events(uow, self.program_id, plan.events)
        count_ledger_operations(self.program_id, (t.type.value for t in plan.transactions))
        return plan

    async def credit(self, uow: UnitOfWork, cmd: Credit) -> LedgerPlan:
        account = await self.repo(uow).lock_account(cmd.account_id)
        return await self._finish(uow, plan_credit(cmd, account, self.policy, self.clock()))

    async def batch_credit(self, uow: UnitOfWork, cmds: Sequence[Credit]) -> BatchCreditPlan:
        accounts = await self.repo(uow).lock_accounts_present({c.account_id for c in cmds})
        batch = plan_batch_credit(cmds, accounts, self.policy, self.clock())
        await self._finish(uow, batch.plan)
        return batch

    async def debit(self, uow: UnitOfWork, cmd: Debit) -> LedgerPlan:
        repo = self.repo(uow)
        account = await repo.lock_account(cmd.account_id)
        lots = await repo.live_lots(cmd.account_id)
        return await self._finish(uow, plan_debit(cmd, account, lots, self.clock()))

    async def batch_debit(
        self, uow: UnitOfWork, cmds: Sequence[Debit]
    ) -> list[LedgerPlan | TamaruError]:
        """Debits of distinct accounts in one transaction: each one's plan, or the error that
        refused it (a refused debit changes nothing; the others go ahead)."""
        if len({cmd.account_id for cmd in cmds}) != len(cmds):
            raise ValueError("a debit batch takes each account once")
        repo = self.repo(uow)
        accounts = await repo.lock_accounts_present(cmd.account_id for cmd in cmds)
        lots = await repo.live_lots_many(sorted(accounts))
        now = self.clock()
        outcomes: list[LedgerPlan | TamaruError] = []
        for cmd in cmds:
            try:
                account = accounts.get(cmd.account_id)
                if account is None:
                    raise NotFound(f"account {cmd.account_id} not found", field="account_id")
                outcomes.append(plan_debit(cmd, account, lots[cmd.account_id], now))
            except TamaruError as exc:
                outcomes.append(exc)
        planned = [o for o in outcomes if isinstance(o, LedgerPlan)]
        if planned:
            await self._finish(uow, combine(planned))
        return outcomes

    async def adjust(self, uow: UnitOfWork, cmd: AdjustPoints) -> LedgerPlan:
        repo = self.repo(uow)
        account = await repo.lock_account(cmd.account_id)
        lots = await repo.live_lots(cmd.account_id)
        return await self._finish(uow, plan_adjust(cmd, account, lots, self.policy, self.clock()))

    async def place_hold(self, uow: UnitOfWork, cmd: PlaceHold) -> LedgerPlan:
        repo = self.repo(uow)
        account = await repo.lock_account(cmd.account_id)
        lots = await repo.live_lots(cmd.account_id)
        return await self._finish(uow, plan_hold(cmd, account, lots, self.policy, self.clock()))

    async def capture_hold(self, uow: UnitOfWork, cmd: CaptureHold) -> LedgerPlan:
        repo = self.repo(uow)
        hold = await repo.hold(cmd.hold_id)
        account = await repo.lock_account(hold.account_id)
        lots = await repo.lots_for(hold.account_id, (a.lot_id for a in hold.allocations))
        return await self._finish(uow, plan_capture(cmd, hold, account, lots, self.clock()))

    async def release_hold(self, uow: UnitOfWork, cmd: ReleaseHold) -> LedgerPlan:
        repo = self.repo(uow)
        hold = await repo.hold(cmd.hold_id)
        account = await repo.lock_account(hold.account_id)
        lots = await repo.lots_by_id(a.lot_id for a in hold.allocations)
        return await self._finish(uow, plan_release(cmd, hold, account, lots, self.clock()))

    async def reverse(self, uow: UnitOfWork, cmd: Reverse) -> LedgerPlan:
        repo = self.repo(uow)
        original = await repo.transaction(cmd.tx_id)
        account = await repo.lock_account(original.account_id)
        lots = await repo.lots_for(original.account_id, reversal_lot_ids(original))
        # Re-read under the account lock: a concurrent reversal may have covered part of it.
        original = await repo.transaction(cmd.tx_id)
        return await self._finish(
            uow, plan_reverse(cmd, original, account, lots, self.policy, self.clock())
        )

    async def transfer(self, uow: UnitOfWork, cmd: Transfer) -> LedgerPlan:
        repo = self.repo(uow)
        accounts = await repo.lock_accounts([cmd.from_account_id, cmd.to_account_id])
        lots = await repo.live_lots(cmd.from_account_id)
        plan = plan_transfer(
            cmd,
            accounts[cmd.from_account_id],
            lots,
            accounts[cmd.to_account_id],
            self.clock(),
        )
        return await self._finish(uow, plan)

    async def merge(self, uow: UnitOfWork, cmd: MergeAccounts) -> LedgerPlan:
        repo = self.repo(uow)
        accounts = await repo.lock_accounts([cmd.survivor_account_id, cmd.absorbed_account_id])
        holds = await repo.open_holds(cmd.absorbed_account_id)
        plan = plan_merge(
            cmd,
            accounts[cmd.survivor_account_id],
            await repo.live_lots(cmd.survivor_account_id),
            accounts[cmd.absorbed_account_id],
            # All of them, spent and held ones too: nothing stays behind on a merged account.
            await repo.all_lots(cmd.absorbed_account_id),
            holds,
            self.clock(),
        )
        return await self._finish(uow, plan)
