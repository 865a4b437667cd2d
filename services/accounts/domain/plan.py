"""A plan: everything one ledger operation changes, to be persisted in one database transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.accounts.domain.events import LedgerEvent
from services.accounts.domain.model import Account, Hold, Lot, Transaction


@dataclass(frozen=True, slots=True)
class LedgerPlan:
    transactions: tuple[Transaction, ...] = ()  # new journal transactions (with their postings)
    new_lots: tuple[Lot, ...] = ()
    lot_updates: tuple[Lot, ...] = ()  # new states of existing lots
    account_updates: tuple[Account, ...] = ()  # new states, cached balances included
    new_holds: tuple[Hold, ...] = ()
    hold_updates: tuple[Hold, ...] = ()
    transaction_updates: tuple[Transaction, ...] = ()  # originals whose reversed_amount grew
    events: tuple[LedgerEvent, ...] = ()

    @property
    def transaction(self) -> Transaction:
        """The plan's main transaction (the first: a spend comes before any expiry it causes)."""
        if not self.transactions:
            raise LookupError("this plan moves no points")
        return self.transactions[0]

    @property
    def hold(self) -> Hold:
        holds = self.new_holds or self.hold_updates
        if len(holds) != 1:
            raise LookupError("this plan does not concern exactly one hold")
        return holds[0]


def combine(plans: Iterable[LedgerPlan]) -> LedgerPlan:
    """Plans made one after another on evolving state (a batch): later states win."""
    plans = list(plans)
    accounts: dict[str, Account] = {}
    lots: dict[str, Lot] = {}
    for plan in plans:
        accounts.update((a.account_id, a) for a in plan.account_updates)
        lots.update((lot.lot_id, lot) for lot in plan.lot_updates)
    return LedgerPlan(
        transactions=tuple(tx for p in plans for tx in p.transactions),
        new_lots=tuple(lot for p in plans for lot in p.new_lots),
        lot_updates=tuple(lots.values()),
        account_updates=tuple(accounts.values()),
        new_holds=tuple(h for p in plans for h in p.new_holds),
        hold_updates=tuple(h for p in plans for h in p.hold_updates),
        transaction_updates=tuple(t for p in plans for t in p.transaction_updates),
        events=tuple(e for p in plans for e in p.events),
    )
