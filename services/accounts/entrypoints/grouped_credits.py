"""Credits that arrive together, committed together (see runtime/group_commit.py): the
Credit RPC and the Credit NATS command (earn's purchases and grants), each with its own
idempotency scope and reply.

Under load, the Credit requests of one program that queue behind the one in flight are run as
one transaction: one key reservation, one account lock, one plan write and one balance read for
all of them, where each alone costs the same round trips. Each request still gets its own
transaction id, lot, events, stored idempotent response and balance, exactly as it would alone.

Anything the batch cannot answer exactly as the usual path would goes SOLO and runs alone: a
request whose key was used before for something else, a member that does not resolve, a credit
the ledger refuses (its error must be the usual one), a second request with the same key or for
the same account (its balance must follow the first's). Keys reserved for those are given back
in the same transaction, so their usual path reserves them afresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import TamaruError
from runtime.group_commit import SOLO, GroupCommit, Outcome
from runtime.idempotency import MAX_KEY_LENGTH, begin_many, finish_many, forget_many
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.member_lookup import resolve_account_ids
from services.accounts.domain.commands import Credit
from services.accounts.domain.plan import LedgerPlan
from services.accounts.entrypoints.ledger_convert import (
    balance_proto,
    credit_command,
    credit_result,
)
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2
from tamaru.accounts.v1 import commands_pb2 as c

R = TypeVar("R", bound=Message)

# The credit requests: the RPC's and the command's carry the same credit fields.
CreditRequest = accounts_pb2.CreditRequest | c.LedgerCommandServiceCreditRequest
Accepted = list[tuple[int, Credit]]  # (index of the call, its ledger command)


@dataclass(frozen=True, slots=True)
class CreditCall:
    request: CreditRequest
    actor: str  # who credits: the caller's API key id, or the command's actor
    key: str  # the idempotency key the usual path uses


@dataclass(frozen=True)
class CreditReplies(Generic[R]):
    """How one entry point answers a credit: its idempotency scope (the usual path's, so either
    path replays the other's response), its response type and how a batch builds them."""

    scope: str
    response_type: type[R]
    build: Callable[[UnitOfWork, str, LedgerPlan, Accepted], Awaitable[dict[int, R]]]


def credit_group_commit(
    uow_factory: Callable[[], UnitOfWork],
    ledger_for: Callable[[str], Ledger],
    replies: CreditReplies[R],
) -> GroupCommit[CreditCall, R]:
    async def run_batch(group: object, calls: Sequence[CreditCall]) -> list[Outcome[R]]:
        program_id = str(group)
        ledger = ledger_for(program_id)
        return await run_in_transaction(
            uow_factory, lambda uow: credit_calls(uow, ledger, program_id, calls, replies)
        )

    return GroupCommit(run_batch)


async def credit_calls(
    uow: UnitOfWork,
    ledger: Ledger,
    program_id: str,
    calls: Sequence[CreditCall],
    replies: CreditReplies[R],
) -> list[Outcome[R]]:
    """One outcome per call, in order: its response, or SOLO."""
    outcomes: list[Outcome[R]] = [SOLO] * len(calls)
    by_key: dict[str, int] = {}
    for index, call in enumerate(calls):
        if call.key and len(call.key) <= MAX_KEY_LENGTH and call.key not in by_key:
            by_key[call.key] = index
    scope = replies.scope
    earlier = await begin_many(
        uow.session, program_id, scope, {k: calls[i].request for k, i in by_key.items()}
    )
    fresh: list[int] = []
    for key, index in by_key.items():
        if key not in earlier:
            continue
        prior = earlier[key]
        if isinstance(prior, bytes):  # a retry of a request already answered
            outcomes[index] = replies.response_type.FromString(prior)
        elif prior is None:
            fresh.append(index)
    cmds = await _commands(uow, program_id, calls, fresh)
    responses: dict[int, R] = {}
    if cmds:
        batch = await ledger.batch_credit(uow, [cmd for _, cmd in cmds])
        accepted = [cmds[i] for i in batch.accepted]
        responses = await replies.build(uow, program_id, batch.plan, accepted)
    for index, response in responses.items():
        outcomes[index] = response
    await finish_many(
        uow.session,
        program_id,
        scope,
        {calls[i].key: response for i, response in responses.items()},
    )
    given_back = [calls[i].key for i in fresh if i not in responses]
    await forget_many(uow.session, program_id, scope, given_back)
    return outcomes


async def _commands(
    uow: UnitOfWork, program_id: str, calls: Sequence[CreditCall], fresh: list[int]
) -> list[tuple[int, Credit]]:
    """The ledger commands of the fresh calls that resolve, one per account."""
    # An account id needs no lookup: the ledger's lock is the existence check, as alone.
    to_resolve = [
        i for i in fresh if calls[i].request.member.WhichOneof("selector") != "account_id"
    ]
    resolved = await resolve_account_ids(
        uow.session, program_id, [calls[i].request.member for i in to_resolve]
    )
    account_of: dict[int, str | TamaruError] = dict(zip(to_resolve, resolved, strict=True))
    cmds: list[tuple[int, Credit]] = []
    accounts: set[str] = set()
    for index in fresh:
        call = calls[index]
        account_id = account_of.get(index, call.request.member.account_id)
        if isinstance(account_id, TamaruError) or account_id in accounts:
            continue
        try:
            cmd = credit_command(call.request, account_id, call.actor, call.key)
        except TamaruError:
            continue
        accounts.add(account_id)
        cmds.append((index, cmd))
    return cmds


def _results(
    plan: LedgerPlan, accepted: Accepted
) -> list[tuple[int, str, accounts_pb2.CreditResult]]:
    """(call index, account id, credit result) of each accepted call, from the batch's plan."""
    lots = {lot.source_tx_id: lot for lot in plan.new_lots}
    results = []
    for (index, cmd), tx, event in zip(accepted, plan.transactions, plan.events, strict=True):
        lot = lots[tx.tx_id]
        repaid = getattr(event, "deficit_repaid", 0)
        result = credit_result(tx.tx_id, cmd.account_id, lot.lot_id, lot.expires_at, repaid)
        results.append((index, cmd.account_id, result))
    return results


async def _rpc_responses(
    uow: UnitOfWork, program_id: str, plan: LedgerPlan, accepted: Accepted
) -> dict[int, accounts_pb2.CreditResponse]:
    """Each accepted RPC's response: its transaction, lot and balance after it."""
    repo = LedgerRepository(uow.session, program_id)
    balances = await repo.balances(plan.account_updates, datetime.now(UTC))
    return {
        index: accounts_pb2.CreditResponse(result=result, balance=balance_proto(balances[account]))
        for index, account, result in _results(plan, accepted)
    }


async def _command_responses(
    uow: UnitOfWork, program_id: str, plan: LedgerPlan, accepted: Accepted
) -> dict[int, c.LedgerCommandServiceCreditResponse]:
    """Each accepted command's response: its transaction, lot and available balance after it
    (from the plan's account updates: no read)."""
    available = {update.account_id: update.available for update in plan.account_updates}
    return {
        index: c.LedgerCommandServiceCreditResponse(result=result, available=available[account])
        for index, account, result in _results(plan, accepted)
    }


RPC_REPLIES = CreditReplies("accounts.Credit", accounts_pb2.CreditResponse, _rpc_responses)
COMMAND_REPLIES = CreditReplies(
    "accounts.cmd.Credit", c.LedgerCommandServiceCreditResponse, _command_responses
)
