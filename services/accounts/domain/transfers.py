"""Transfers between members (thanks points).

The receiver gets new lots that keep the kind and expiry of the lots the sender spent, so a
transfer never extends a point's life; they are earned (for spend-order ties) at transfer time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from runtime.errors import InvalidArgument, NotFound
from services.accounts.domain.commands import Transfer
from services.accounts.domain.events import PointsTransferred
from services.accounts.domain.model import (
    Account,
    Lot,
    NewId,
    Posting,
    Transaction,
    TxType,
    member_ref,
    new_uuid,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.validation import (
    check_amount,
    check_aware,
    check_source,
    check_text,
    ensure_can_receive,
    ensure_can_spend,
)
from services.accounts.domain.workset import AccountWork


def plan_transfer(
    cmd: Transfer,
    sender: Account,
    sender_lots: Sequence[Lot],
    receiver: Account,
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """The adapter locks both account rows in account-id order before loading them."""
    amount = check_amount(cmd.amount)
    check_source(cmd.source)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    if cmd.from_account_id != sender.account_id or cmd.to_account_id != receiver.account_id:
        raise ValueError("loaded accounts do not match the transfer")
    if sender.account_id == receiver.account_id:
        raise InvalidArgument(
            "cannot transfer points to the same account",
            reason="SAME_ACCOUNT",
            field="to_account_id",
        )
    if sender.program_id != receiver.program_id:
        raise NotFound(
            f"account {receiver.account_id} not found",
            reason="ACCOUNT_NOT_FOUND",
            field="to_account_id",
        )
    ensure_can_spend(sender)
    ensure_can_receive(receiver)
    out = AccountWork(sender, sender_lots)
    out.ensure_spendable(amount, now)
    draws = out.spend(amount, now)

    # One new lot per (kind, expiry) drawn, in spend order.
    shapes: dict[tuple[str, datetime | None], int] = {}
    for draw in draws:
        lot = out.lot(draw.lot_id)
        key = (lot.kind, lot.expires_at)
        shapes[key] = shapes.get(key, 0) + draw.amount
    tx_id = new_id()
    into = AccountWork(receiver)
    for (kind, expires_at), points in shapes.items():
        into.add_lot(
            Lot(
                lot_id=new_id(),
                account_id=receiver.account_id,
                kind=kind,
                amount=points,
                remaining=points,
                earned_at=now,
                expires_at=expires_at,
                source_tx_id=tx_id,
            )
        )
    into.repay_deficit(now)
    new_lots = into.new_lots()
    tx = Transaction(
        tx_id=tx_id,
        program_id=sender.program_id,
        type=TxType.TRANSFER,
        account_id=sender.account_id,
        amount=amount,
        postings=(
            Posting(member_ref(sender.account_id), -amount),
            Posting(member_ref(receiver.account_id), amount),
        ),
        occurred_at=now,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        spent=tuple(draws),
        created_lot_ids=tuple(lot.lot_id for lot in new_lots),
        counterparty_account_id=receiver.account_id,
    )
    event = PointsTransferred(
        program_id=sender.program_id,
        from_account_id=sender.account_id,
        to_account_id=receiver.account_id,
        tx_id=tx_id,
        amount=amount,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        occurred_at=now,
    )
    return LedgerPlan(
        transactions=(tx,),
        new_lots=new_lots,
        lot_updates=out.changed_lots(),
        account_updates=(out.account, into.account),
        events=(event,),
    )
