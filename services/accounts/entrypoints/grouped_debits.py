"""Debits that arrive together, committed together: the Debit RPC and the Debit NATS command,
each with its own idempotency scope and reply. What grouped calls share, and what goes SOLO
(a debit the ledger refuses, such as one for more points than the member has, among them), is
in grouped_calls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork
from runtime.group_commit import GroupCommit
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.domain.commands import Debit
from services.accounts.domain.plan import LedgerPlan
from services.accounts.entrypoints.grouped_calls import LedgerCall, Replies, ledger_group_commit
from services.accounts.entrypoints.ledger_convert import balance_proto, debit_command, debit_result
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2
from tamaru.accounts.v1 import commands_pb2 as c

R = TypeVar("R", bound=Message)

Accepted = list[tuple[int, LedgerPlan]]  # (index of the call, its debit's plan)


def debit_group_commit(
    uow_factory: Callable[[], UnitOfWork],
    ledger_for: Callable[[str], Ledger],
    replies: Replies[Accepted, R],
) -> GroupCommit[str, LedgerCall, R]:
    return ledger_group_commit(uow_factory, ledger_for, debit_command, _debit, replies)


async def _debit(uow: UnitOfWork, ledger: Ledger, cmds: list[tuple[int, Debit]]) -> Accepted:
    """The plans of the debits the ledger accepted (the refused ones go solo)."""
    plans = await ledger.batch_debit(uow, [cmd for _, cmd in cmds])
    return [
        (index, plan)
        for (index, _), plan in zip(cmds, plans, strict=True)
        if isinstance(plan, LedgerPlan)
    ]


async def _rpc_responses(
    uow: UnitOfWork, program_id: str, accepted: Accepted
) -> dict[int, accounts_pb2.DebitResponse]:
    """Each accepted RPC's response: its transaction, the lots it drew and the balance after."""
    if not accepted:
        return {}
    repo = LedgerRepository(uow.session, program_id)
    after = [plan.account_updates[0] for _, plan in accepted]
    balances = await repo.balances(after, datetime.now(UTC))
    return {
        index: accounts_pb2.DebitResponse(
            result=debit_result(plan),
            balance=balance_proto(balances[plan.account_updates[0].account_id]),
        )
        for index, plan in accepted
    }


async def _command_responses(
    uow: UnitOfWork, program_id: str, accepted: Accepted
) -> dict[int, c.LedgerCommandServiceDebitResponse]:
    """Each accepted command's response, with the available balance the plan left (no read)."""
    return {
        index: c.LedgerCommandServiceDebitResponse(
            result=debit_result(plan), available=plan.account_updates[0].available
        )
        for index, plan in accepted
    }


RPC_REPLIES = Replies("accounts.Debit", accounts_pb2.DebitResponse, _rpc_responses)
COMMAND_REPLIES = Replies(
    "accounts.cmd.Debit", c.LedgerCommandServiceDebitResponse, _command_responses
)
