"""Reversals: a cancelled spend restores exactly the lots it drew from; a returned purchase
claws back exactly the points it earned (those not expired meanwhile).

A transaction may be reversed in parts; `reversed_amount` on the original says how much is
covered. Partial restores give back the latest-expiring draws first (the reverse of the
spend order), so which points a part restores follows from `reversed_amount` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from runtime.errors import FailedPrecondition, InvalidArgument
from services.accounts.domain.commands import Reverse
from services.accounts.domain.events import LedgerEvent, TransactionReversed
from services.accounts.domain.expiry import expiry_transaction
from services.accounts.domain.model import (
    Account,
    Lot,
    LotDraw,
    NewId,
    Posting,
    SystemAccount,
    Transaction,
    TxType,
    member_ref,
    new_uuid,
    system_ref,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.validation import (
    check_amount,
    check_aware,
    check_source,
    check_text,
    ensure_can_receive,
)
from services.accounts.domain.workset import AccountWork

# Spends are restored from the system account they went to; credits returned to theirs.
RESTORABLE = {
    TxType.DEBIT: SystemAccount.REDEEMED,
    TxType.CAPTURE: SystemAccount.REDEEMED,
    TxType.ADJUSTMENT_DEBIT: SystemAccount.ADJUSTMENTS,
}
CLAWABLE = {
    TxType.CREDIT: SystemAccount.ISSUED,
    TxType.ADJUSTMENT_CREDIT: SystemAccount.ADJUSTMENTS,
}


def reversal_lot_ids(original: Transaction) -> tuple[str, ...]:
    """The lots a reversal of `original` must load by id (besides, for a clawback, the
    account's lots with points remaining)."""
    if original.type in RESTORABLE:
        return tuple(dict.fromkeys(d.lot_id for d in original.spent))
    return original.created_lot_ids


def plan_reverse(
    cmd: Reverse,
    original: Transaction,
    account: Account,
    lots: Sequence[Lot],
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """`account`: the account that now owns the original's lots (after a merge, the survivor).
    `lots`: the lots named by `reversal_lot_ids(original)`, plus, to claw back a credit whose
    points were spent, the account's other lots with points remaining."""
    if original.tx_id != cmd.tx_id:
        raise ValueError(f"loaded transaction {original.tx_id} for a reversal of {cmd.tx_id}")
    check_text(cmd.reason, "reason", required=True)
    check_source(cmd.source)
    check_aware(now, "now")
    if original.type not in RESTORABLE and original.type not in CLAWABLE:
        raise FailedPrecondition(
            f"a {original.type.value} transaction cannot be reversed; adjust points instead",
            reason="NOT_REVERSIBLE",
            field="tx_id",
        )
    left = original.amount - original.reversed_amount
    if left <= 0:
        raise FailedPrecondition(
            f"transaction {original.tx_id} is already fully reversed",
            reason="ALREADY_REVERSED",
            field="tx_id",
        )
    amount = left if cmd.amount is None else check_amount(cmd.amount)
    if amount > left:
        raise InvalidArgument(
            f"only {left} of transaction {original.tx_id} is left to reverse",
            reason="AMOUNT_EXCEEDS_REVERSIBLE",
            field="amount",
        )
    ensure_can_receive(account)
    work = AccountWork(account, lots)
    if original.type in RESTORABLE:
        return _restore(cmd, original, work, amount, now, new_id)
    return _claw_back(cmd, original, work, amount, policy, now, new_id)


def _outstanding_draws(original: Transaction, amount: int) -> list[LotDraw]:
    """The next `amount` points to restore: draws latest-first, past what was restored."""
    skip, want = original.reversed_amount, amount
    out: list[LotDraw] = []
    for draw in reversed(original.spent):
        usable = draw.amount - min(skip, draw.amount)
        skip -= draw.amount - usable
        take = min(usable, want)
        if take:
            out.append(LotDraw(draw.lot_id, take))
            want -= take
    if want:
        raise ValueError(f"transaction {original.tx_id} records fewer spent points than it moved")
    return out


def _restore(
    cmd: Reverse,
    original: Transaction,
    work: AccountWork,
    amount: int,
    now: datetime,
    new_id: NewId,
) -> LedgerPlan:
    account_id = work.account.account_id
    expired: list[tuple[Lot, int]] = []
    for draw in _outstanding_draws(original, amount):
        if work.give_back(draw.lot_id, draw.amount, now):
            expired.append((work.lot(draw.lot_id), draw.amount))
    work.repay_deficit(now)
    tx = _reversal_tx(
        cmd,
        original,
        work.account,
        amount,
        (
            Posting(member_ref(account_id), amount),
            Posting(system_ref(RESTORABLE[original.type]), -amount),
        ),
        now,
        new_id,
    )
    txs: tuple[Transaction, ...] = (tx,)
    events: tuple[LedgerEvent, ...] = ()
    expired_points = 0
    if expired:
        expiry_tx, expiry_event = expiry_transaction(
            work.account,
            expired,
            now=now,
            new_id=new_id,
            source=cmd.source,
            reason=f"restored points whose lots had expired (reversal {tx.tx_id})",
        )
        txs, events, expired_points = (tx, expiry_tx), (expiry_event,), expiry_tx.amount
    event = _reversed_event(
        cmd,
        original,
        tx,
        restored=amount,
        clawed=0,
        expired=expired_points,
        shortfall=0,
        not_clawed=0,
    )
    return LedgerPlan(
        transactions=txs,
        lot_updates=work.changed_lots(),
        account_updates=(work.account,),
        transaction_updates=(replace(original, reversed_amount=original.reversed_amount + amount),),
        events=(event, *events),
    )


def _claw_back(
    cmd: Reverse,
    original: Transaction,
    work: AccountWork,
    amount: int,
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId,
) -> LedgerPlan:
    created = [work.lot(lot_id) for lot_id in original.created_lot_ids]
    # Earned points that expired were never used: there is nothing of them to take back.
    expired_total = sum(lot.expired_amount for lot in created)
    clawable = max(0, min(amount, left_unexpired(original, expired_total)))
    wanted = clawable
    taken = 0
    for lot in created:  # the credit's own lots first, then the soonest-to-expire others
        take = min(wanted, lot.remaining)
        if take:
            work.lots[lot.lot_id] = replace(lot, remaining=lot.remaining - take)
            wanted -= take
            taken += take
    taken += sum(d.amount for d in work.take_soonest(wanted, now))
    owed = clawable - taken
    shortfall = 0 if policy.allow_negative_balance else owed
    deficit_added = owed - shortfall
    clawed = taken + deficit_added
    work.account = replace(
        work.account,
        available=work.account.available - clawed,
        deficit=work.account.deficit + deficit_added,
    )
    postings = (
        (
            Posting(member_ref(work.account.account_id), -clawed),
            Posting(system_ref(CLAWABLE[original.type]), clawed),
        )
        if clawed
        else ()
    )
    tx = replace(
        _reversal_tx(cmd, original, work.account, amount, postings, now, new_id),
        shortfall=shortfall,
    )
    event = _reversed_event(
        cmd,
        original,
        tx,
        restored=0,
        clawed=clawed,
        expired=0,
        shortfall=shortfall,
        not_clawed=amount - clawable,
    )
    return LedgerPlan(
        transactions=(tx,),
        lot_updates=work.changed_lots(),
        account_updates=(work.account,),
        transaction_updates=(replace(original, reversed_amount=original.reversed_amount + amount),),
        events=(event,),
    )


def left_unexpired(original: Transaction, expired_total: int) -> int:
    """Of a credit, the points neither reversed yet nor expired (expired count first)."""
    return original.amount - original.reversed_amount - expired_total


def _reversal_tx(
    cmd: Reverse,
    original: Transaction,
    account: Account,
    amount: int,
    postings: tuple[Posting, ...],
    now: datetime,
    new_id: NewId,
) -> Transaction:
    return Transaction(
        tx_id=new_id(),
        program_id=account.program_id,
        type=TxType.REVERSAL,
        account_id=account.account_id,
        amount=amount,
        postings=postings,
        occurred_at=now,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        kind=original.kind,
        sponsor_funded=original.sponsor_funded,
        reverses_tx_id=original.tx_id,
    )


def _reversed_event(
    cmd: Reverse,
    original: Transaction,
    tx: Transaction,
    *,
    restored: int,
    clawed: int,
    expired: int,
    shortfall: int,
    not_clawed: int,
) -> TransactionReversed:
    return TransactionReversed(
        program_id=tx.program_id,
        account_id=tx.account_id,
        tx_id=tx.tx_id,
        original_tx_id=original.tx_id,
        original_type=original.type,
        amount=tx.amount,
        restored=restored,
        clawed_back=clawed,
        expired=expired,
        shortfall=shortfall,
        not_clawed_expired=not_clawed,
        sponsor_funded=original.sponsor_funded,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        occurred_at=tx.occurred_at,
    )
