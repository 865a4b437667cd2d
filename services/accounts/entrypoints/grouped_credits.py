"""Credits that arrive together, committed together: the Credit RPC and the Credit NATS
command (earn's behaviours and thanks), each with its own idempotency scope and reply. What
grouped calls share, and what goes SOLO, is in grouped_calls.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork
from runtime.group_commit import GroupCommit, Outcome
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.domain.commands import Credit
from services.accounts.domain.plan import LedgerPlan
from services.accounts.entrypoints.grouped_calls import (
    LedgerCall,
    answer_calls,
    ledger_group_commit,
    one_command_per_account,
)
from services.accounts.entrypoints.ledger_convert import (
    balance_proto,
    credit_command,
    credit_result,
)
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2
from tamaru.accounts.v1 import commands_pb2 as c

R = TypeVar("R", bound=Message)

Accepted = list[tuple[int, Credit]]  # (index of the call, its ledger command)


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
) -> GroupCommit[LedgerCall, R]:
    async def run_calls(
        uow: UnitOfWork, ledger: Ledger, program_id: str, calls: Sequence[LedgerCall]
    ) -> list[Outcome[R]]:
        return await credit_calls(uow, ledger, program_id, calls, replies)

    return ledger_group_commit(uow_factory, ledger_for, run_calls)


async def credit_calls(
    uow: UnitOfWork,
    ledger: Ledger,
    program_id: str,
    calls: Sequence[LedgerCall],
    replies: CreditReplies[R],
) -> list[Outcome[R]]:
    """One outcome per call, in order: its response, or SOLO."""

    async def answer_fresh(uow: UnitOfWork, fresh: list[int]) -> dict[int, R]:
        cmds = await one_command_per_account(uow, program_id, calls, fresh, credit_command)
        if not cmds:
            return {}
        batch = await ledger.batch_credit(uow, [cmd for _, cmd in cmds])
        accepted = [cmds[i] for i in batch.accepted]
        return await replies.build(uow, program_id, batch.plan, accepted)

    return await answer_calls(
        uow, program_id, replies.scope, replies.response_type, calls, answer_fresh
    )


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
