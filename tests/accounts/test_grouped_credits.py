"""Credits (RPCs, or NATS commands from earn) that queue behind one in flight commit as one
transaction, and each still gets exactly the answer it would get alone: its own transaction,
balance, event and stored response, or its usual error (see group_commit_support.py for how
the queue is made certain).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import grpc
from nats.aio.client import Client

from runtime.errors import InvalidArgument, NotFound
from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tests.accounts.conftest import Accounts
from tests.accounts.group_commit_support import commits, queued_behind_a_locked_credit
from tests.accounts.members_support import outbox_events

ADMIN = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN)


def credit_request(account_id: str, amount: int, key: str | None = None) -> Any:
    return accounts_pb2.CreditRequest(
        idempotency_key=str(uuid.uuid4()) if key is None else key,
        member=members_pb2.MemberSelector(account_id=account_id),
        amount=amount,
        source=ADMIN,
    )


async def test_queued_credits_commit_together_and_each_gets_its_own_answer(
    accounts_app: ServiceApp, accounts: Accounts
) -> None:
    first = await accounts.enrol()
    members = [await accounts.enrol() for _ in range(12)]
    requests = [credit_request(m, 100 + i) for i, m in enumerate(members)]

    _, replies = await queued_behind_a_locked_credit(
        accounts_app, accounts, first, [accounts.call("Credit", r) for r in requests]
    )

    program_id = accounts.program.program_id
    assert await commits(accounts_app, program_id) == 2  # the first alone, then the 12 at once
    assert len({r.result.transaction_id for r in replies}) == 12
    for member, request, reply in zip(members, requests, replies, strict=True):
        assert reply.result.account_id == member
        assert reply.balance.available == request.amount
        assert (await accounts.balance(member)).available == request.amount
        # A retry takes the usual path and replays the response the batch stored.
        assert await accounts.call("Credit", request) == reply
    credited = await outbox_events(accounts_app, program_id, "points_credited")
    assert sorted(e.amount for e in credited) == [1] + [r.amount for r in requests]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems


async def test_bad_or_repeated_credits_in_a_batch_answer_as_they_would_alone(
    accounts_app: ServiceApp, accounts: Accounts
) -> None:
    first, good, twice, other = [await accounts.enrol() for _ in range(4)]
    answered_before = credit_request(other, 7)
    before = await accounts.call("Credit", answered_before)
    shared_key = credit_request(good, 5)
    reused_key = credit_request(other, 9, key=shared_key.idempotency_key)

    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [
            accounts.call("Credit", shared_key),
            accounts.call("Credit", shared_key),  # a retry racing the original
            accounts.call("Credit", reused_key),  # the key again, for another credit
            accounts.call("Credit", credit_request(twice, 10)),
            accounts.call("Credit", credit_request(twice, 20)),  # the same account again
            accounts.call("Credit", credit_request(str(uuid.uuid4()), 10)),  # no such member
            accounts.call("Credit", credit_request(good, 0)),  # no points
            accounts.call("Credit", credit_request(good, 3, key="")),  # no key
            accounts.call("Credit", answered_before),  # a retry of an earlier credit
        ],
    )
    original, retry, reused, once, again, unknown, zero, keyless, replayed = replies

    assert retry == original
    assert original.balance.available == 5
    assert reused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idempotency_key" in (reused.details() or "")
    assert sorted([once.balance.available, again.balance.available]) == [10, 30]
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert zero.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert keyless.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idempotency_key is required" in (keyless.details() or "")
    assert replayed == before

    assert (await accounts.balance(good)).available == 5
    assert (await accounts.balance(twice)).available == 30
    assert (await accounts.balance(other)).available == 7
    program_id = accounts.program.program_id
    credited = await outbox_events(accounts_app, program_id, "points_credited")
    assert sorted(e.amount for e in credited) == [1, 5, 7, 10, 20]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems


async def test_queued_credit_commands_commit_together_and_each_gets_its_own_answer(
    accounts_app: ServiceApp, accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    program_id = accounts.program.program_id

    def credit_command(account_id: str, amount: int, key: str) -> Awaitable[Any]:
        request = c.LedgerCommandServiceCreditRequest(
            member=members_pb2.MemberSelector(account_id=account_id),
            amount=amount,
            source=ADMIN,
            reason="purchase",
            actor="earn:test",
        )
        return client.call(
            "accounts",
            "Credit",
            request,
            c.LedgerCommandServiceCreditResponse,
            program_id=program_id,
            idempotency_key=key,
        )

    first = await accounts.enrol()
    members = [await accounts.enrol() for _ in range(6)]
    keys = [str(uuid.uuid4()) for _ in members]
    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [credit_command(m, 100 + i, k) for i, (m, k) in enumerate(zip(members, keys, strict=True))]
        + [
            credit_command(str(uuid.uuid4()), 10, str(uuid.uuid4())),  # no such member
            credit_command(members[0], 999, keys[0]),  # the key again, for another credit
        ],
        first_call=lambda: credit_command(first, 1, str(uuid.uuid4())),
    )
    *credited, unknown, reused = replies

    assert await commits(accounts_app, program_id) == 2  # the first alone, then the 6 at once
    for i, (member, reply) in enumerate(zip(members, credited, strict=True)):
        assert reply.result.account_id == member
        assert reply.available == 100 + i
        assert (await accounts.balance(member)).available == 100 + i
        # A retry takes the usual path and replays the response the batch stored.
        assert await credit_command(member, 100 + i, keys[i]) == reply
    assert isinstance(unknown, NotFound)
    assert isinstance(reused, InvalidArgument)
    events = await outbox_events(accounts_app, program_id, "points_credited")
    assert sorted(e.amount for e in events) == [1] + [100 + i for i in range(6)]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems
