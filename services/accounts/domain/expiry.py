"""Expiring points: the sweep over due lots, and points that expire at once when they return
to a lot whose expiry has passed (a released hold, a restored spend)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from services.accounts.domain.events import PointsExpired
from services.accounts.domain.model import (
    Account,
    Lot,
    LotDraw,
    NewId,
    Posting,
    Source,
    SourceType,
    SystemAccount,
    Transaction,
    TxType,
    member_ref,
    new_uuid,
    system_ref,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.validation import check_aware

SWEEP_SOURCE = Source(SourceType.SYSTEM, "expiry")


def expiry_transaction(
    account: Account,
    expired: Sequence[tuple[Lot, int]],
    *,
    now: datetime,
    new_id: NewId,
    source: Source,
    reason: str,
) -> tuple[Transaction, PointsExpired]:
    """The journal record of points leaving `account` for the expired account."""
    amount = 0
    draws = []
    by_kind: dict[str, int] = {}
    for lot, n in expired:  # one plain loop: sweeps run this for every account they touch
        amount += n
        draws.append(LotDraw(lot.lot_id, n))
        by_kind[lot.kind] = by_kind.get(lot.kind, 0) + n
    tx = Transaction(
        tx_id=new_id(),
        program_id=account.program_id,
        type=TxType.EXPIRY,
        account_id=account.account_id,
        amount=amount,
        postings=(
            Posting(member_ref(account.account_id), -amount),
            Posting(system_ref(SystemAccount.EXPIRED), amount),
        ),
        occurred_at=now,
        source=source,
        reason=reason,
        actor="system",
        expired=tuple(draws),
    )
    event = PointsExpired(
        program_id=account.program_id,
        account_id=account.account_id,
        tx_id=tx.tx_id,
        amount=amount,
        by_kind=tuple(sorted(by_kind.items())),
        lots=tx.expired,
        occurred_at=now,
    )
    return tx, event


def plan_expire(
    due_lots: Sequence[Lot],
    accounts: Mapping[str, Account],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """Expire the remaining points of due lots: one transaction and event per account.

    Lots not yet due or with nothing remaining are skipped, so a sweeper may pass a batch as
    its query found it. Held points stay with their hold and expire when it is released.
    """
    check_aware(now, "now")
    by_account: dict[str, list[Lot]] = defaultdict(list)
    for lot in due_lots:
        if lot.remaining > 0 and lot.is_expired(now):
            by_account[lot.account_id].append(lot)
    txs: list[Transaction] = []
    lot_updates: list[Lot] = []
    account_updates: list[Account] = []
    events: list[PointsExpired] = []
    for account_id, lots in by_account.items():
        try:
            account = accounts[account_id]
        except KeyError:
            raise ValueError(f"account {account_id} of a due lot was not loaded") from None
        tx, event = expiry_transaction(
            account,
            [(lot, lot.remaining) for lot in lots],
            now=now,
            new_id=new_id,
            source=SWEEP_SOURCE,
            reason="points reached their expiry date",
        )
        txs.append(tx)
        events.append(event)
        lot_updates.extend(
            lot.with_points(remaining=0, expired_amount=lot.expired_amount + lot.remaining)
            for lot in lots
        )
        account_updates.append(account.with_balances(available=account.available - tx.amount))
    return LedgerPlan(
        transactions=tuple(txs),
        lot_updates=tuple(lot_updates),
        account_updates=tuple(account_updates),
        events=tuple(events),
    )
