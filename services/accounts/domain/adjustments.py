"""An administrator's corrections, funded from (or returned to) the adjustments account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from runtime.errors import InvalidArgument
from services.accounts.domain.commands import AdjustPoints
from services.accounts.domain.crediting import issue, issued_plan, lot_expiry
from services.accounts.domain.model import (
    MAX_POINTS,
    Account,
    Lot,
    NewId,
    SystemAccount,
    TxType,
    new_uuid,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.spending import spend_lots
from services.accounts.domain.validation import (
    check_aware,
    check_source,
    check_text,
    ensure_can_receive,
)


def plan_adjust(
    cmd: AdjustPoints,
    account: Account,
    lots: Sequence[Lot],
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """Positive `delta` adds a lot of `kind`; negative spends like a debit (never below zero).
    A suspended account may be adjusted: correcting it is what suspension is for."""
    delta = cmd.delta
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise InvalidArgument("delta must be a non-zero integer number of points", field="delta")
    if abs(delta) > MAX_POINTS:
        raise InvalidArgument(f"delta must be within ±{MAX_POINTS}", field="delta")
    check_text(cmd.reason, "reason", required=True)
    check_text(cmd.actor, "actor", required=True)
    check_source(cmd.source)
    check_aware(now, "now")
    ensure_can_receive(account)
    if delta > 0:
        issued = issue(
            account,
            amount=delta,
            kind=cmd.kind,
            earned_at=now,
            expires_at=lot_expiry(policy, cmd.kind, now, now),
            tx_type=TxType.ADJUSTMENT_CREDIT,
            counter=SystemAccount.ADJUSTMENTS,
            source=cmd.source,
            reason=cmd.reason,
            actor=cmd.actor,
            idempotency_key=cmd.idempotency_key,
            sponsor_funded=False,
            now=now,
            new_id=new_id,
        )
        return issued_plan(issued)
    return spend_lots(
        account,
        lots,
        amount=-delta,
        tx_type=TxType.ADJUSTMENT_DEBIT,
        counter=SystemAccount.ADJUSTMENTS,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        now=now,
        new_id=new_id,
    )
