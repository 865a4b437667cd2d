"""Debits (RPCs, or NATS commands) that queue behind one in flight commit as one transaction,
and each still gets exactly the answer it would get alone: its own transaction, the lots it
drew, its balance and stored response, or its usual error (see group_commit_support.py for how
the queue is made certain)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import grpc
from nats.aio.client import Client

from runtime.errors import FailedPrecondition
from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tests.accounts.conftest import Accounts
from tests.accounts.group_commit_support import commits, queued_behind_a_locked_credit
from tests.accounts.members_support import outbox_events

ORDER = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="order-1")


def debit_request(account_id: str, amount: int, key: str | None = None) -> Any:
    return accounts_pb2.DebitRequest(
        idempotency_key=str(uuid.uuid4()) if key is None else key,
        member=members_pb2.MemberSelector(account_id=account_id),
        amount=amount,
        source=ORDER,
    )


async def funded(accounts: Accounts, count: int, points: int) -> list[str]:
    members = [await accounts.enrol() for _ in range(count)]
    for member in members:
        await accounts.credit(member, points)
    return members


async def test_queued_debits_commit_together_and_each_gets_its_own_answer(
    accounts_app: ServiceApp, accounts: Accounts
) -> None:
    first, *members = await funded(accounts, 7, 100)
    requests = [debit_request(m, 10 + i) for i, m in enumerate(members)]

    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [accounts.call("Debit", r) for r in requests],
        first_call=lambda: accounts.debit(first, 1),
    )

    program_id = accounts.program.program_id
    assert await commits(accounts_app, program_id, "debit") == 2  # the first, then the 6
    for member, request, reply in zip(members, requests, replies, strict=True):
        assert reply.result.account_id == member
        assert sum(d.amount for d in reply.result.draws) == request.amount
        assert reply.balance.available == 100 - request.amount
        assert (await accounts.balance(member)).available == 100 - request.amount
        assert await accounts.call("Debit", request) == reply  # a retry replays it
    debited = await outbox_events(accounts_app, program_id, "points_debited")
    assert sorted(e.amount for e in debited) == [1] + [r.amount for r in requests]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems


async def test_refused_or_repeated_debits_in_a_batch_answer_as_they_would_alone(
    accounts_app: ServiceApp, accounts: Accounts
) -> None:
    first, rich, poor, twice = await funded(accounts, 4, 50)
    shared_key = debit_request(rich, 5)

    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [
            accounts.call("Debit", shared_key),
            accounts.call("Debit", debit_request(poor, 51)),  # more than the member has
            accounts.call("Debit", debit_request(twice, 30)),
            accounts.call("Debit", debit_request(twice, 30)),  # the same account: 20 left
            accounts.call("Debit", debit_request(rich, 7, key=shared_key.idempotency_key)),
            accounts.call("Debit", debit_request(str(uuid.uuid4()), 1)),  # no such member
        ],
        first_call=lambda: accounts.debit(first, 1),
    )
    original, too_much, once, again, reused, unknown = replies

    assert original.balance.available == 45
    assert too_much.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert once.balance.available == 20
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION  # as alone, after the first
    assert reused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    balances = [(await accounts.balance(m)).available for m in (rich, poor, twice)]
    assert balances == [45, 50, 20]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems


async def test_queued_debit_commands_commit_together(
    accounts_app: ServiceApp, accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    program_id = accounts.program.program_id

    def debit_command(account_id: str, amount: int, key: str) -> Awaitable[Any]:
        request = c.LedgerCommandServiceDebitRequest(
            member=members_pb2.MemberSelector(account_id=account_id),
            amount=amount,
            source=ORDER,
            actor="redeem:test",
        )
        response = c.LedgerCommandServiceDebitResponse
        return client.call(
            "accounts", "Debit", request, response, program_id=program_id, idempotency_key=key
        )

    first, *members = await funded(accounts, 5, 40)
    keys = [str(uuid.uuid4()) for _ in members]
    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [debit_command(m, 10, k) for m, k in zip(members, keys, strict=True)]
        + [debit_command(members[0], 100, str(uuid.uuid4()))],  # more than is left
        first_call=lambda: debit_command(first, 1, str(uuid.uuid4())),
    )
    *debited, refused = replies

    assert await commits(accounts_app, program_id, "debit") == 2
    for member, key, reply in zip(members, keys, debited, strict=True):
        assert reply.result.account_id == member
        assert reply.available == 30
        assert await debit_command(member, 10, key) == reply
    assert isinstance(refused, FailedPrecondition)
    assert [(await accounts.balance(m)).available for m in members] == [30] * 4
