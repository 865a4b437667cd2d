"""Holds: reserve points on specific lots for a pending order, then capture or release once.

A hold takes its points out of the lots' `remaining` (so they cannot be spent twice) and
keeps the allocation per lot. Capture spends them; release gives them back to the same lots,
and points whose lot expired meanwhile expire at once. The one terminal state is also guarded
by the adapter (an `UPDATE ... WHERE status = 'open'`), not only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from runtime.errors import FailedPrecondition, InvalidArgument
from services.accounts.domain.commands import CaptureHold, PlaceHold, ReleaseHold
from services.accounts.domain.events import HoldCaptured, HoldReleased, LedgerEvent, PointsHeld
from services.accounts.domain.expiry import expiry_transaction
from services.accounts.domain.model import (
    Account,
    Hold,
    HoldStatus,
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
    ensure_can_spend,
)
from services.accounts.domain.workset import AccountWork


def plan_hold(
    cmd: PlaceHold,
    account: Account,
    lots: Sequence[Lot],
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    amount = check_amount(cmd.amount)
    check_source(cmd.source)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    if not timedelta(0) < cmd.ttl <= policy.max_hold_ttl:
        raise InvalidArgument(
            f"ttl must be positive and at most {policy.max_hold_ttl}", field="ttl"
        )
    ensure_can_spend(account)
    work = AccountWork(account, lots)
    work.ensure_spendable(amount, now)
    allocations = tuple(work.take_soonest(amount, now))
    hold = Hold(
        hold_id=new_id(),
        account_id=account.account_id,
        program_id=account.program_id,
        amount=amount,
        allocations=allocations,
        created_at=now,
        expires_at=now + cmd.ttl,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
    )
    updated = account.with_balances(
        available=account.available - amount, held=account.held + amount
    )
    event = PointsHeld(
        program_id=account.program_id,
        account_id=account.account_id,
        hold_id=hold.hold_id,
        amount=amount,
        expires_at=hold.expires_at,
        source=cmd.source,
        occurred_at=now,
    )
    return LedgerPlan(
        lot_updates=work.changed_lots(),
        account_updates=(updated,),
        new_holds=(hold,),
        events=(event,),
    )


def _ensure_open(hold: Hold, hold_id: str) -> None:
    if hold.hold_id != hold_id:
        raise ValueError(f"loaded hold {hold.hold_id} for a request about {hold_id}")
    if hold.status.is_terminal:
        raise FailedPrecondition(
            f"hold {hold.hold_id} is already {hold.status.value}",
            reason="HOLD_ALREADY_SETTLED",
            field="hold_id",
        )


def _split(allocations: Sequence[LotDraw], first: int) -> tuple[list[LotDraw], list[LotDraw]]:
    """The first `first` points of the allocations (in spend order) and the rest."""
    head: list[LotDraw] = []
    tail: list[LotDraw] = []
    left = first
    for draw in allocations:
        take = min(left, draw.amount)
        if take:
            head.append(LotDraw(draw.lot_id, take))
        if draw.amount - take:
            tail.append(LotDraw(draw.lot_id, draw.amount - take))
        left -= take
    return head, tail


def _give_back(
    work: AccountWork, hold: Hold, draws: Sequence[LotDraw], now: datetime, new_id: NewId
) -> tuple[int, tuple[Transaction, ...], tuple[LedgerEvent, ...]]:
    """Return held points to their lots; expire at once those whose lot has expired."""
    expired: list[tuple[Lot, int]] = []
    for draw in draws:
        if work.give_back(draw.lot_id, draw.amount, now):
            expired.append((work.lot(draw.lot_id), draw.amount))
    work.account = work.account.with_balances(held=work.account.held - sum(d.amount for d in draws))
    work.repay_deficit(now)
    if not expired:
        return 0, (), ()
    tx, event = expiry_transaction(
        work.account,
        expired,
        now=now,
        new_id=new_id,
        source=hold.source,
        reason=f"held points returned after their lots expired (hold {hold.hold_id})",
    )
    # Points that expire at once never became available, so `available` is unchanged.
    return tx.amount, (tx,), (event,)


def plan_capture(
    cmd: CaptureHold,
    hold: Hold,
    account: Account,
    lots: Sequence[Lot],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """Spend the hold (or its first `amount` points, releasing the rest).

    `lots`: the lots in the hold's allocations (needed when part of it is released)."""
    _ensure_open(hold, cmd.hold_id)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    if now >= hold.expires_at:
        raise FailedPrecondition(
            f"hold {hold.hold_id} timed out at {hold.expires_at.isoformat()}",
            reason="HOLD_EXPIRED",
            field="hold_id",
        )
    amount = hold.amount if cmd.amount is None else check_amount(cmd.amount)
    if amount > hold.amount:
        raise InvalidArgument(
            f"cannot capture {amount} from a hold of {hold.amount}",
            reason="AMOUNT_EXCEEDS_HOLD",
            field="amount",
        )
    captured, rest = _split(hold.allocations, amount)
    work = AccountWork(account, lots)
    tx = Transaction(
        tx_id=new_id(),
        program_id=account.program_id,
        type=TxType.CAPTURE,
        account_id=account.account_id,
        amount=amount,
        postings=(
            Posting(member_ref(account.account_id), -amount),
            Posting(system_ref(SystemAccount.REDEEMED), amount),
        ),
        occurred_at=now,
        source=hold.source,
        reason=cmd.reason or hold.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        spent=tuple(captured),
        hold_id=hold.hold_id,
    )
    work.account = work.account.with_balances(held=work.account.held - amount)
    _, expiry_txs, expiry_events = _give_back(work, hold, rest, now, new_id)
    settled = replace(
        hold,
        status=HoldStatus.CAPTURED,
        settled_at=now,
        captured_amount=amount,
        settle_tx_id=tx.tx_id,
    )
    event = HoldCaptured(
        program_id=account.program_id,
        account_id=account.account_id,
        hold_id=hold.hold_id,
        tx_id=tx.tx_id,
        amount=amount,
        released_amount=hold.amount - amount,
        source=hold.source,
        occurred_at=now,
    )
    return LedgerPlan(
        transactions=(tx, *expiry_txs),
        lot_updates=work.changed_lots(),
        account_updates=(work.account,),
        hold_updates=(settled,),
        events=(event, *expiry_events),
    )


def plan_release(
    cmd: ReleaseHold,
    hold: Hold,
    account: Account,
    lots: Sequence[Lot],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """Give the held points back to their lots. `lots`: the lots in the hold's allocations."""
    _ensure_open(hold, cmd.hold_id)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    return _release(hold, account, lots, now, new_id, HoldStatus.RELEASED)


def plan_release_timed_out(
    hold: Hold,
    account: Account,
    lots: Sequence[Lot],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """The hold sweeper's release of a hold nobody settled within its time to live."""
    _ensure_open(hold, hold.hold_id)
    check_aware(now, "now")
    if now < hold.expires_at:
        raise FailedPrecondition(
            f"hold {hold.hold_id} runs until {hold.expires_at.isoformat()}",
            reason="HOLD_NOT_DUE",
            field="hold_id",
        )
    return _release(hold, account, lots, now, new_id, HoldStatus.EXPIRED)


def _release(
    hold: Hold,
    account: Account,
    lots: Sequence[Lot],
    now: datetime,
    new_id: NewId,
    status: HoldStatus,
) -> LedgerPlan:
    work = AccountWork(account, lots)
    expired, txs, events = _give_back(work, hold, hold.allocations, now, new_id)
    settled = replace(
        hold,
        status=status,
        settled_at=now,
        settle_tx_id=txs[0].tx_id if txs else None,
    )
    event = HoldReleased(
        program_id=account.program_id,
        account_id=account.account_id,
        hold_id=hold.hold_id,
        amount=hold.amount,
        expired_amount=expired,
        timed_out=status is HoldStatus.EXPIRED,
        source=hold.source,
        occurred_at=now,
    )
    return LedgerPlan(
        transactions=txs,
        lot_updates=work.changed_lots(),
        account_updates=(work.account,),
        hold_updates=(settled,),
        events=(event, *events),
    )
