"""Merging two accounts of one member: the absorbed account's lots and open holds move to the
survivor, its balance moves by one transaction, and it is left empty with status MERGED."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from runtime.errors import InvalidArgument, NotFound
from services.accounts.domain.commands import MergeAccounts
from services.accounts.domain.events import AccountsMerged
from services.accounts.domain.model import (
    Account,
    AccountStatus,
    Hold,
    HoldStatus,
    Lot,
    NewId,
    Posting,
    Source,
    SourceType,
    Transaction,
    TxType,
    member_ref,
    new_uuid,
)
from services.accounts.domain.plan import LedgerPlan
from services.accounts.domain.validation import check_aware, check_text, ensure_can_receive
from services.accounts.domain.workset import AccountWork


def plan_merge(
    cmd: MergeAccounts,
    survivor: Account,
    survivor_lots: Sequence[Lot],
    absorbed: Account,
    absorbed_lots: Sequence[Lot],
    absorbed_open_holds: Sequence[Hold],
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    """`absorbed_lots`: all the absorbed account's lots (each moves, so history stays whole);
    `survivor_lots`: its lots with points remaining (to repay a deficit either side had)."""
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    if (cmd.survivor_account_id, cmd.absorbed_account_id) != (
        survivor.account_id,
        absorbed.account_id,
    ):
        raise ValueError("loaded accounts do not match the merge")
    if survivor.account_id == absorbed.account_id:
        raise InvalidArgument(
            "an account cannot be merged into itself",
            reason="SAME_ACCOUNT",
            field="absorbed_account_id",
        )
    if survivor.program_id != absorbed.program_id:
        raise NotFound(
            f"account {absorbed.account_id} not found",
            reason="ACCOUNT_NOT_FOUND",
            field="absorbed_account_id",
        )
    ensure_can_receive(survivor)
    ensure_can_receive(absorbed)
    for hold in absorbed_open_holds:
        if hold.account_id != absorbed.account_id or hold.status is not HoldStatus.OPEN:
            raise ValueError(f"hold {hold.hold_id} is not an open hold of the absorbed account")

    moved_lots = [replace(lot, account_id=survivor.account_id) for lot in absorbed_lots]
    moved_holds = tuple(replace(h, account_id=survivor.account_id) for h in absorbed_open_holds)
    if sum(h.amount for h in moved_holds) != absorbed.held:
        raise ValueError("the open holds loaded do not add up to the absorbed account's held")
    work = AccountWork(
        replace(
            survivor,
            available=survivor.available + absorbed.available,
            held=survivor.held + absorbed.held,
            deficit=survivor.deficit + absorbed.deficit,
        ),
        [*survivor_lots, *moved_lots],
    )
    work.repay_deficit(now)  # a deficit on one side is repaid by points on the other

    moved = absorbed.available + absorbed.held  # the absorbed account's journal balance
    tx = Transaction(
        tx_id=new_id(),
        program_id=survivor.program_id,
        type=TxType.MERGE,
        account_id=survivor.account_id,
        amount=abs(moved),
        postings=(
            (
                Posting(member_ref(absorbed.account_id), -moved),
                Posting(member_ref(survivor.account_id), moved),
            )
            if moved
            else ()
        ),
        occurred_at=now,
        source=Source(SourceType.SYSTEM, "merge"),
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        counterparty_account_id=absorbed.account_id,
    )
    emptied = replace(
        absorbed,
        status=AccountStatus.MERGED,
        available=0,
        held=0,
        deficit=0,
        merged_into=survivor.account_id,
    )
    moved_ids = [lot.lot_id for lot in moved_lots]
    # Every moved lot changed owner; survivor lots changed only if they repaid a deficit.
    lot_updates = {lot.lot_id: lot for lot in work.changed_lots()}
    lot_updates.update((lot_id, work.lots[lot_id]) for lot_id in moved_ids)
    event = AccountsMerged(
        program_id=survivor.program_id,
        survivor_account_id=survivor.account_id,
        absorbed_account_id=absorbed.account_id,
        tx_id=tx.tx_id,
        moved_available=absorbed.available,
        moved_held=absorbed.held,
        moved_lot_ids=tuple(moved_ids),
        moved_hold_ids=tuple(h.hold_id for h in moved_holds),
        reason=cmd.reason,
        actor=cmd.actor,
        occurred_at=now,
    )
    return LedgerPlan(
        transactions=(tx,),
        lot_updates=tuple(lot_updates.values()),
        account_updates=(work.account, emptied),
        hold_updates=moved_holds,
        events=(event,),
    )
