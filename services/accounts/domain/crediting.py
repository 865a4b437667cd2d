"""Credits: each creates one lot whose expiry follows the program's policy for its kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TamaruError
from services.accounts.domain.commands import Credit
from services.accounts.domain.events import LedgerEvent, PointsCredited
from services.accounts.domain.expiry_policy import compute_expiry
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
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.validation import (
    check_amount,
    check_aware,
    check_source,
    check_text,
    ensure_can_receive,
)


def lot_expiry(
    policy: LedgerPolicy, kind: str, earned_at: datetime, now: datetime
) -> datetime | None:
    expires_at = compute_expiry(policy.expiry, kind, earned_at, policy.time_zone)
    if expires_at is not None and expires_at <= now:
        raise FailedPrecondition(
            f"points of kind {kind!r} earned at {earned_at.isoformat()} would already have expired",
            reason="POINTS_ALREADY_EXPIRED",
            field="earned_at" if earned_at != now else "kind",
        )
    return expires_at


@dataclass(frozen=True, slots=True)
class IssuedLot:
    """One credit's parts: its transaction, lot and event, and the account afterwards."""

    transaction: Transaction
    lot: Lot
    event: PointsCredited
    account: Account


def issue(
    account: Account,
    *,
    amount: int,
    kind: str,
    earned_at: datetime,
    expires_at: datetime | None,
    tx_type: TxType,
    counter: SystemAccount,
    source: Source,
    reason: str,
    actor: str,
    idempotency_key: str,
    sponsor_funded: bool,
    now: datetime,
    new_id: NewId,
) -> IssuedLot:
    """A new lot and the transaction that funds it from `counter` (issued or adjustments).

    Written without the working-set helpers because batch credits run it per entry."""
    tx_id, lot_id = new_id(), new_id()
    repaid = min(amount, account.deficit)  # an earlier negative clawback is repaid first
    lot = Lot(
        lot_id,
        account.account_id,
        kind,
        amount,
        amount - repaid,
        earned_at,
        expires_at,
        0,
        tx_id,
    )
    tx = Transaction(
        tx_id=tx_id,
        program_id=account.program_id,
        type=tx_type,
        account_id=account.account_id,
        amount=amount,
        postings=(
            Posting(member_ref(account.account_id), amount),
            Posting(system_ref(counter), -amount),
        ),
        occurred_at=now,
        source=source,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        kind=kind,
        sponsor_funded=sponsor_funded,
        created_lot_ids=(lot_id,),
    )
    event = PointsCredited(
        program_id=account.program_id,
        account_id=account.account_id,
        tx_id=tx_id,
        lot_id=lot_id,
        amount=amount,
        kind=kind,
        expires_at=expires_at,
        source=source,
        reason=reason,
        actor=actor,
        sponsor_funded=sponsor_funded,
        occurred_at=now,
        adjustment=tx_type is TxType.ADJUSTMENT_CREDIT,
        deficit_repaid=repaid,
    )
    after = account.with_balances(
        available=account.available + amount, deficit=account.deficit - repaid
    )
    return IssuedLot(tx, lot, event, after)


def issued_plan(issued: IssuedLot) -> LedgerPlan:
    return LedgerPlan(
        transactions=(issued.transaction,),
        new_lots=(issued.lot,),
        account_updates=(issued.account,),
        events=(issued.event,),
    )


def plan_credit(
    cmd: Credit,
    account: Account,
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId = new_uuid,
) -> LedgerPlan:
    return issued_plan(_issue_credit(cmd, account, policy, now, new_id))


def _issue_credit(
    cmd: Credit, account: Account, policy: LedgerPolicy, now: datetime, new_id: NewId
) -> IssuedLot:
    amount = check_amount(cmd.amount)
    check_source(cmd.source)
    check_text(cmd.reason, "reason")
    check_aware(now, "now")
    ensure_can_receive(account)
    earned_at = now if cmd.earned_at is None else check_aware(cmd.earned_at, "earned_at")
    if earned_at > now:
        raise InvalidArgument("earned_at must not be in the future", field="earned_at")
    return issue(
        account,
        amount=amount,
        kind=cmd.kind,
        earned_at=earned_at,
        expires_at=lot_expiry(policy, cmd.kind, earned_at, now),
        tx_type=TxType.CREDIT,
        counter=SystemAccount.ISSUED,
        source=cmd.source,
        reason=cmd.reason,
        actor=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        sponsor_funded=cmd.sponsor_funded,
        now=now,
        new_id=new_id,
    )


@dataclass(frozen=True, slots=True)
class RejectedCredit:
    index: int
    error: TamaruError


@dataclass(frozen=True, slots=True)
class BatchCreditPlan:
    """Accepted entries (one transaction each, so each can be reversed alone) and rejections."""

    plan: LedgerPlan
    accepted: tuple[int, ...]  # entry indexes, in the order of plan.transactions
    rejected: tuple[RejectedCredit, ...]


def plan_batch_credit(
    cmds: Sequence[Credit],
    accounts: Mapping[str, Account],
    policy: LedgerPolicy,
    now: datetime,
    new_id: NewId = new_uuid,
) -> BatchCreditPlan:
    """Credit many entries; a bad entry is rejected (its error's field names the entry) while
    the others go through. Several entries may credit the same account."""
    current: dict[str, Account] = {}  # accounts as the batch has left them so far
    txs: list[Transaction] = []
    lots: list[Lot] = []
    events: list[LedgerEvent] = []
    accepted: list[int] = []
    rejected: list[RejectedCredit] = []
    for index, cmd in enumerate(cmds):
        try:
            account = current.get(cmd.account_id) or accounts.get(cmd.account_id)
            if account is None:
                raise NotFound(
                    f"account {cmd.account_id} not found",
                    reason="ACCOUNT_NOT_FOUND",
                    field="account_id",
                )
            issued = _issue_credit(cmd, account, policy, now, new_id)
        except TamaruError as exc:
            rejected.append(RejectedCredit(index, _for_entry(exc, index)))
            continue
        current[cmd.account_id] = issued.account
        txs.append(issued.transaction)
        lots.append(issued.lot)
        events.append(issued.event)
        accepted.append(index)
    plan = LedgerPlan(
        transactions=tuple(txs),
        new_lots=tuple(lots),
        account_updates=tuple(current.values()),
        events=tuple(events),
    )
    return BatchCreditPlan(plan, tuple(accepted), tuple(rejected))


def _for_entry(exc: TamaruError, index: int) -> TamaruError:
    field = f"entries[{index}].{exc.field}" if exc.field else f"entries[{index}]"
    return type(exc)(f"entries[{index}]: {exc.message}", reason=exc.reason, field=field)
