"""Debits: spend soonest-to-expire lots first and record exactly which lots were drawn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.accounts.domain.commands import Debit
from services.accounts.domain.events import PointsDebited
from services.accounts.domain.model import (
    Account,
    Lot,
    NewId,
    Posting,
    Source,
    SystemAccount,
    Transaction,
    TxType,
    member_ref,
    new_uuid,
    system_ref,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.validation import (
    check_amount,
    check_aware,
    check_source,
    check_text,
    ensure_can_spend,
)
from services.accounts.domain.workset import AccountWork, spend_order, spend_order_key

__all__ = ["plan_debit", "spend_lots", "spend_order", "spend_order_key"]


def spend_lots(
    account: Account,
    lots: Sequence[Lot],
    *,
    amount: int,
    tx_type: TxType,
    counter: SystemAccount,
    source: Source,
    reason: str,
    actor: str,
    idempotency_key: str,
    now: datetime,
    new_id: NewId,
) -> LedgerPlan:
    """Spend `amount` from the account's lots into `counter` (redeemed or adjustments)."""
    work = AccountWork(account, lots)
    work.ensure_spendable(amount, now)
    draws = tuple(work.spend(amount, now))
    tx = Transaction(
        tx_id=new_id(),
        program_id=account.program_id,
        type=tx_type,
        account_id=account.account_id,
        amount=amount,
        postings=(
            Posting(member_ref(account.account_id), -amount),
            Posting(system_ref(counter), amount),
        ),
        occurred_at=now,
        source=source,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        spent=draws,
    )
    event = PointsDebited(
        program_id=account.program_id,
        account_id=account.account_id,
        tx_id=tx.tx_id,
        amount=amount,
        draws=draws,
        source=source,
        reason=reason,
        actor=actor,
        occurred_at=now,
        adjustment=tx_type is TxType.ADJUSTMENT_DEBIT,
    )
    return LedgerPlan(
        transactions=(tx,),
        lot_updates=work.changed_lots(),
        account_updates=(work.account,),
        events=(event,),
    )


def plan_debit(
    cmd: Debit,
    account: Account,
    lots: Sequence[Lot],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """`lots`: the account's lots with points remaining (others are ignored)."""
    amount = check_amount(cmd.amount)
    check_source(cmd.source)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    ensure_can_spend(account)
    return spend_lots(
        account,
        lots,
        amount=amount,
        tx_type=TxType.DEBIT,
        counter=SystemAccount.REDEEMED,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        now=now,
        new_id=new_id,
    )
