"""Proto <-> domain conversions for the ledger RPCs and commands."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument
from services.accounts.adapters.event_mapping import source_proto, timestamp
from services.accounts.domain.balances import Balance, ExpiringPoints
from services.accounts.domain.commands import Credit, Debit, Reverse, Transfer
from services.accounts.domain.model import (
    NORMAL_KIND,
    LotDraw,
    Source,
    SourceType,
    Transaction,
)
from services.accounts.domain.plan import LedgerPlan
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2


def source_from(proto: ledger_pb2.Source, *, field: str = "source") -> Source:
    if proto.type == ledger_pb2.SOURCE_TYPE_UNSPECIFIED:
        raise InvalidArgument(
            f"{field}.type is required (criterion, rule, order, import_row, admin, thanks)",
            field=f"{field}.type",
        )
    try:
        name = ledger_pb2.SourceType.Name(proto.type).removeprefix("SOURCE_TYPE_").lower()
        return Source(SourceType(name), proto.id)
    except ValueError:
        raise InvalidArgument(f"unknown {field}.type {proto.type}", field=f"{field}.type") from None


def credit_result(
    tx_id: str, account_id: str, lot_id: str, expires_at: datetime | None, deficit_repaid: int
) -> accounts_pb2.CreditResult:
    result = accounts_pb2.CreditResult(
        transaction_id=tx_id,
        account_id=account_id,
        lot_id=lot_id,
        deficit_repaid=deficit_repaid,
    )
    if expires_at is not None:
        result.expires_at.CopyFrom(timestamp(expires_at))
    return result


def kind_from(kind: str) -> str:
    return kind or NORMAL_KIND


def optional_time(stamp: Timestamp, has: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if has else None


def balance_proto(balance: Balance) -> ledger_pb2.Balance:
    proto = ledger_pb2.Balance(
        available=balance.available,
        held=balance.held,
        by_kind=[
            ledger_pb2.KindAmount(kind=k, amount=v) for k, v in sorted(balance.by_kind.items())
        ],
        next_expiry_amount=balance.next_expiry_amount,
        deficit=balance.deficit,
    )
    if balance.next_expiry_at is not None:
        proto.next_expiry_at.CopyFrom(timestamp(balance.next_expiry_at))
    return proto


def expiring_proto(item: ExpiringPoints) -> ledger_pb2.ExpiringPoints:
    return ledger_pb2.ExpiringPoints(
        expires_at=timestamp(item.expires_at), kind=item.kind, amount=item.amount
    )


def transaction_proto(tx: Transaction, *, for_account: str) -> ledger_pb2.Transaction:
    change = sum(
        p.amount for p in tx.postings if p.account.type == "member" and p.account.id == for_account
    )
    return ledger_pb2.Transaction(
        transaction_id=tx.tx_id,
        type=ledger_pb2.TransactionType.Value(f"TRANSACTION_TYPE_{tx.type.value.upper()}"),
        account_id=tx.account_id,
        amount=tx.amount,
        balance_change=change,
        kind=tx.kind or "",
        source=source_proto(tx.source),
        reason=tx.reason,
        actor=tx.actor,
        occurred_at=timestamp(tx.occurred_at),
        sponsor_funded=tx.sponsor_funded,
        spent=[ledger_pb2.LotDraw(lot_id=d.lot_id, amount=d.amount) for d in tx.spent],
        counterparty_account_id=tx.counterparty_account_id or "",
        hold_id=tx.hold_id or "",
        reverses_transaction_id=tx.reverses_tx_id or "",
        reversed_amount=tx.reversed_amount,
        shortfall=tx.shortfall,
    )


# The client RPCs and the NATS commands carry the same fields under the same names, so one
# builder per command serves both entrypoints.


def credit_command(request: Any, account_id: str, actor: str, key: str) -> Credit:
    return Credit(
        account_id=account_id,
        amount=request.amount,
        source=source_from(request.source),
        kind=kind_from(request.kind),
        reason=request.reason,
        actor=actor,
        idempotency_key=key,
        sponsor_funded=request.sponsor_funded,
        earned_at=optional_time(request.earned_at, request.HasField("earned_at")),
    )


def debit_command(request: Any, account_id: str, actor: str, key: str) -> Debit:
    return Debit(
        account_id=account_id,
        amount=request.amount,
        source=source_from(request.source),
        reason=request.reason,
        actor=actor,
        idempotency_key=key,
    )


def reverse_command(request: Any, actor: str, key: str) -> Reverse:
    return Reverse(
        tx_id=request.transaction_id,
        reason=request.reason,
        source=source_from(request.source),
        amount=request.amount or None,
        actor=actor,
        idempotency_key=key,
    )


def transfer_command(request: Any, sender: str, receiver: str, actor: str, key: str) -> Transfer:
    return Transfer(
        from_account_id=sender,
        to_account_id=receiver,
        amount=request.amount,
        source=source_from(request.source),
        reason=request.reason,
        actor=actor,
        idempotency_key=key,
    )


def draws_proto(draws: Iterable[LotDraw]) -> list[ledger_pb2.LotDraw]:
    return [ledger_pb2.LotDraw(lot_id=d.lot_id, amount=d.amount) for d in draws]


def debit_result(plan: LedgerPlan) -> accounts_pb2.DebitResult:
    """A debit's result: its transaction and the lots it drew from."""
    tx = plan.transaction
    return accounts_pb2.DebitResult(
        transaction_id=tx.tx_id, account_id=tx.account_id, draws=draws_proto(tx.spent)
    )
