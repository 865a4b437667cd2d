"""A mutable working copy of one account and the lots a plan touches (internal to planners).

Planners change the copy step by step, then freeze what changed into a `LedgerPlan`.
Balances move only through these methods, so `available == sum(remaining) - deficit` holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from runtime.errors import FailedPrecondition
from services.accounts.domain.model import Account, Lot, LotDraw

_NEVER = datetime.max.replace(tzinfo=UTC)


def spend_order_key(lot: Lot) -> tuple[bool, datetime, datetime, str]:
    """Soonest-to-expire first, never-expiring last; ties by earned_at, then lot id."""
    return (lot.expires_at is None, lot.expires_at or _NEVER, lot.earned_at, lot.lot_id)


def spend_order(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    return sorted((lot for lot in lots if lot.is_spendable(now)), key=spend_order_key)


class AccountWork:
    def __init__(self, account: Account, lots: Iterable[Lot] = ()) -> None:
        self.account = account
        self.lots: dict[str, Lot] = {}
        for lot in lots:
            if lot.account_id != account.account_id:
                raise ValueError(f"lot {lot.lot_id} belongs to {lot.account_id}, not {account}")
            self.lots[lot.lot_id] = lot
        self._before = dict(self.lots)
        self._new: list[str] = []

    def lot(self, lot_id: str) -> Lot:
        try:
            return self.lots[lot_id]
        except KeyError:
            raise ValueError(f"lot {lot_id} was not loaded for this operation") from None

    def spendable(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots.values() if lot.is_spendable(now))

    def ensure_spendable(self, amount: int, now: datetime, field: str = "amount") -> None:
        usable = self.spendable(now) - self.account.deficit
        if usable < amount:
            raise FailedPrecondition(
                f"account {self.account.account_id} has {max(usable, 0)} points available, "
                f"{amount} requested",
                reason="INSUFFICIENT_POINTS",
                field=field,
            )

    def take_soonest(self, amount: int, now: datetime) -> list[LotDraw]:
        """Take up to `amount` from spendable lots in spend order; callers adjust balances."""
        draws: list[LotDraw] = []
        left = amount
        for lot in spend_order(self.lots.values(), now):
            if left == 0:
                break
            take = min(left, lot.remaining)
            self.lots[lot.lot_id] = lot.with_points(remaining=lot.remaining - take)
            draws.append(LotDraw(lot.lot_id, take))
            left -= take
        return draws

    def add_lot(self, lot: Lot) -> None:
        self.lots[lot.lot_id] = lot
        self._new.append(lot.lot_id)
        self.account = self.account.with_balances(available=self.account.available + lot.remaining)

    def give_back(self, lot_id: str, amount: int, now: datetime) -> int:
        """Return points to a lot (a released hold, a restored spend); returns how many of them
        expired at once because the lot's expiry has passed. Balances: `available` grows by
        the points that did not expire."""
        lot = self.lot(lot_id)
        if lot.is_expired(now):
            self.lots[lot_id] = lot.with_points(expired_amount=lot.expired_amount + amount)
            return amount
        self.lots[lot_id] = lot.with_points(remaining=lot.remaining + amount)
        self.account = self.account.with_balances(available=self.account.available + amount)
        return 0

    def spend(self, amount: int, now: datetime) -> list[LotDraw]:
        draws = self.take_soonest(amount, now)
        self.account = self.account.with_balances(available=self.account.available - amount)
        return draws

    def repay_deficit(self, now: datetime) -> int:
        """Points owed after a negative clawback are repaid from points that arrive later."""
        owed = self.account.deficit
        if owed == 0:
            return 0
        repaid = sum(d.amount for d in self.take_soonest(owed, now))
        # available is unchanged: lots shrink by what the deficit shrinks.
        self.account = self.account.with_balances(deficit=owed - repaid)
        return repaid

    def changed_lots(self) -> tuple[Lot, ...]:
        return tuple(
            lot
            for lot_id, lot in self.lots.items()
            if lot_id in self._before and lot != self._before[lot_id]
        )

    def new_lots(self) -> tuple[Lot, ...]:
        return tuple(self.lots[lot_id] for lot_id in self._new)
