"""Credits that arrive together, committed together: the Credit RPC and the Credit NATS
command (earn's behaviours and thanks), each with its own idempotency scope and reply. What
grouped calls share, and what goes SOLO, is in grouped_calls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork
from runtime.group_commit import GroupCommit
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.domain.commands import Credit
from services.accounts.domain.plan import LedgerPlan
from services.accounts.entrypoints.grouped_calls import LedgerCall, Replies, ledger_group_commit
from services.accounts.entrypoints.ledger_convert import (
    balance_proto,
    credit_command,
    credit_result,
)
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2
from tamaru.accounts.v1 import commands_pb2 as c

R = TypeVar("R", bound=Message)

# The batch's plan, and (call index, command) of each credit the ledger accepted, in order.
CreditBatch = tuple[LedgerPlan, list[tuple[int, Credit]]]


def credit_group_commit(
    uow_factory: Callable[[], UnitOfWork],
    ledger_for: Callable[[str], Ledger],
    replies: Replies[CreditBatch, R],
) -> GroupCommit[str, LedgerCall, R]:
    return ledger_group_commit(uow_factory, ledger_for, credit_command, _credit, replies)


async def _credit(uow: UnitOfWork, ledger: Ledger, cmds: list[tuple[int, Credit]]) -> CreditBatch:
    batch = await ledger.batch_credit(uow, [cmd for _, cmd in cmds])
    return batch.plan, [cmds[i] for i in batch.accepted]


def _results(batch: CreditBatch) -> list[tuple[int, str, accounts_pb2.CreditResult]]:
    """(call index, account id, credit result) of each accepted call, from the batch's plan."""
    plan, accepted = batch
    lots = {lot.source_tx_id: lot for lot in plan.new_lots}
    results = []
    for (index, cmd), tx, event in zip(accepted, plan.transactions, plan.events, strict=True):
        lot = lots[tx.tx_id]
        repaid = getattr(event, "deficit_repaid", 0)
        result = credit_result(tx.tx_id, cmd.account_id, lot.lot_id, lot.expires_at, repaid)
        results.append((index, cmd.account_id, result))
    return results


async def _rpc_responses(
    uow: UnitOfWork, program_id: str, batch: CreditBatch
) -> dict[int, accounts_pb2.CreditResponse]:
    """Each accepted RPC's response: its transaction, lot and balance after it."""
    repo = LedgerRepository(uow.session, program_id)
    balances = await repo.balances(batch[0].account_updates, datetime.now(UTC))
    return {
        index: accounts_pb2.CreditResponse(result=result, balance=balance_proto(balances[account]))
        for index, account, result in _results(batch)
    }


async def _command_responses(
    uow: UnitOfWork, program_id: str, batch: CreditBatch
) -> dict[int, c.LedgerCommandServiceCreditResponse]:
    """Each accepted command's response: its transaction, lot and available balance after it
    (from the plan's account updates: no read)."""
    available = {update.account_id: update.available for update in batch[0].account_updates}
    return {
        index: c.LedgerCommandServiceCreditResponse(result=result, available=available[account])
        for index, account, result in _results(batch)
    }


RPC_REPLIES = Replies("accounts.Credit", accounts_pb2.CreditResponse, _rpc_responses)
COMMAND_REPLIES = Replies(
    "accounts.cmd.Credit", c.LedgerCommandServiceCreditResponse, _command_responses
)
