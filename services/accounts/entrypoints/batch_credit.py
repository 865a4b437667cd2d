"""Batch credits, shared by the gRPC BatchCredit and the NATS BatchCredit command.

Every entry is resolved, checked and credited on its own: a bad entry is refused with its own
error (its field names it, e.g. `entries[3].member`) and the others go ahead. An entry may
carry its own idempotency key (imports, group grants): it is then credited once per key across
all batches, so a retry that regroups entries into different batches credits nobody twice.
Without one, its transaction's key is `<batch key>#<index>` and the batch's key guards it.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument, TamaruError
from runtime.idempotency import begin_many, finish_many, forget_many
from runtime.messaging.commands import error_detail
from services.accounts.adapters.member_lookup import resolve_account_ids
from services.accounts.domain.commands import Credit
from services.accounts.entrypoints.ledger_convert import (
    credit_result,
    kind_from,
    optional_time,
    source_from,
)
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2

MAX_BATCH_ENTRIES = 10_000  # the proto's documented limit: about 1 MB of request
ENTRY_SCOPE = "accounts.BatchCredit.entry"


def check_size(entries: Sequence[accounts_pb2.BatchCreditEntry]) -> None:
    if not 1 <= len(entries) <= MAX_BATCH_ENTRIES:
        raise InvalidArgument(
            f"entries holds {len(entries)}: send 1 to {MAX_BATCH_ENTRIES:,} "
            "entries per call (split larger batches)",
            field="entries",
        )


def _refused(index: int, exc: TamaruError) -> accounts_pb2.BatchCreditEntryResult:
    return accounts_pb2.BatchCreditEntryResult(index=index, error=error_detail(exc))


def _renumbered(exc: TamaruError, planned: int, index: int) -> TamaruError:
    """The ledger numbers entries by their place among those it was given; the caller needs
    their place in the request."""
    exc.field = exc.field.replace(f"entries[{planned}]", f"entries[{index}]")
    exc.message = exc.message.replace(f"entries[{planned}]", f"entries[{index}]")
    return exc


async def credit_entries(
    uow: UnitOfWork,
    ledger: Ledger,
    program_id: str,
    entries: Sequence[accounts_pb2.BatchCreditEntry],
    *,
    batch_key: str,
    actor: str,
) -> accounts_pb2.BatchCreditResponse:
    results: dict[int, accounts_pb2.BatchCreditEntryResult] = {}
    candidates: list[tuple[int, Credit]] = []
    keyed: dict[str, accounts_pb2.BatchCreditEntry] = {}
    resolved = await resolve_account_ids(uow.session, program_id, [e.member for e in entries])
    for index, (entry, account_id) in enumerate(zip(entries, resolved, strict=True)):
        try:
            if isinstance(account_id, TamaruError):
                raise account_id
            source = source_from(entry.source, field=f"entries[{index}].source")
            if entry.idempotency_key in keyed:
                raise InvalidArgument(
                    "idempotency_key repeats an earlier entry's in this batch",
                    field=f"entries[{index}].idempotency_key",
                )
        except TamaruError as exc:
            results[index] = _refused(index, exc)
            continue
        if entry.idempotency_key:
            keyed[entry.idempotency_key] = entry
        candidates.append(
            (
                index,
                Credit(
                    account_id=account_id,
                    amount=entry.amount,
                    source=source,
                    kind=kind_from(entry.kind),
                    reason=entry.reason,
                    actor=actor,
                    idempotency_key=entry.idempotency_key or f"{batch_key}#{index}",
                    sponsor_funded=entry.sponsor_funded,
                    earned_at=optional_time(entry.earned_at, entry.HasField("earned_at")),
                ),
            )
        )
    earlier = await begin_many(uow.session, program_id, ENTRY_SCOPE, keyed)
    to_credit: list[tuple[int, Credit]] = []
    for index, cmd in candidates:
        prior = earlier.get(entries[index].idempotency_key)
        if isinstance(prior, TamaruError):
            prior.field = f"entries[{index}].idempotency_key"
            results[index] = _refused(index, prior)
        elif isinstance(prior, bytes):  # credited by an earlier batch: its result again
            results[index] = accounts_pb2.BatchCreditEntryResult(
                index=index, result=accounts_pb2.CreditResult.FromString(prior)
            )
        else:
            to_credit.append((index, cmd))
    if to_credit:
        await _credit(uow, ledger, program_id, entries, to_credit, results)
    ordered = [results[i] for i in sorted(results)]
    refused = sum(1 for r in ordered if r.HasField("error"))
    return accounts_pb2.BatchCreditResponse(
        credited=len(ordered) - refused, rejected=refused, results=ordered
    )


async def _credit(
    uow: UnitOfWork,
    ledger: Ledger,
    program_id: str,
    entries: Sequence[accounts_pb2.BatchCreditEntry],
    to_credit: list[tuple[int, Credit]],
    results: dict[int, accounts_pb2.BatchCreditEntryResult],
) -> None:
    batch = await ledger.batch_credit(uow, [cmd for _, cmd in to_credit])
    lots_by_tx = {lot.source_tx_id: lot for lot in batch.plan.new_lots}
    done: dict[str, accounts_pb2.CreditResult] = {}
    for tx, planned in zip(batch.plan.transactions, batch.accepted, strict=True):
        index = to_credit[planned][0]
        lot = lots_by_tx[tx.tx_id]
        result = credit_result(tx.tx_id, tx.account_id, lot.lot_id, lot.expires_at, 0)
        results[index] = accounts_pb2.BatchCreditEntryResult(index=index, result=result)
        if entries[index].idempotency_key:
            done[entries[index].idempotency_key] = result
    given_back: list[str] = []
    for rejected in batch.rejected:
        index = to_credit[rejected.index][0]
        results[index] = _refused(index, _renumbered(rejected.error, rejected.index, index))
        if entries[index].idempotency_key:
            given_back.append(entries[index].idempotency_key)
    await finish_many(uow.session, program_id, ENTRY_SCOPE, done)
    await forget_many(uow.session, program_id, ENTRY_SCOPE, given_back)
