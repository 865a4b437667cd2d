"""Small BatchCredit commands (earn's purchases) that queue behind one in flight are merged
into one transaction, and each still gets the reply it would get alone, numbered by its own
entries; a command with a refused entry is answered by its usual path."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

from nats.aio.client import Client

from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tests.accounts.conftest import Accounts
from tests.accounts.group_commit_support import commits, queued_behind_a_locked_credit
from tests.accounts.members_support import by_id, outbox_events

RULE = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id="base")
Reply = c.LedgerCommandServiceBatchCreditResponse


def entry(account_id: str, amount: int, key: str) -> accounts_pb2.BatchCreditEntry:
    return accounts_pb2.BatchCreditEntry(
        member=by_id(account_id), amount=amount, source=RULE, idempotency_key=key
    )


async def test_queued_small_batch_commands_merge_and_each_gets_its_own_reply(
    accounts_app: ServiceApp, accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    program_id = accounts.program.program_id

    def batch(*entries: accounts_pb2.BatchCreditEntry) -> Awaitable[Reply]:
        request = c.LedgerCommandServiceBatchCreditRequest(entries=entries, actor="earn:test")
        return client.call("accounts", "BatchCredit", request, Reply, program_id=program_id)

    first, a, b, d = [await accounts.enrol() for _ in range(4)]
    run = str(uuid.uuid4())
    _, replies = await queued_behind_a_locked_credit(
        accounts_app,
        accounts,
        first,
        [
            batch(entry(a, 10, f"{run}:a:normal"), entry(a, 5, f"{run}:a:campaign")),
            batch(entry(b, 20, f"{run}:b")),
            batch(entry(d, 30, f"{run}:d"), entry(str(uuid.uuid4()), 1, f"{run}:x")),
            batch(entry(b, 20, f"{run}:b")),  # a retry racing the original
        ],
        first_call=lambda: batch(entry(first, 1, f"{run}:first")),
    )
    two_kinds, single, partly_refused, retry = replies

    assert await commits(accounts_app, program_id) == 2  # the first alone, then the rest
    assert (two_kinds.credited, two_kinds.rejected) == (2, 0)
    assert [r.index for r in two_kinds.results] == [0, 1]
    assert {r.result.account_id for r in two_kinds.results} == {a}
    assert retry == single
    # Answered by its usual path: the refused entry numbered within its own command.
    assert (partly_refused.credited, partly_refused.rejected) == (1, 1)
    refused = partly_refused.results[1]
    assert refused.index == 1
    assert refused.error.field == "entries[1].member"
    assert refused.error.code == 5  # NOT_FOUND
    assert partly_refused.results[0].result.account_id == d

    assert [(await accounts.balance(m)).available for m in (a, b, d)] == [15, 20, 30]
    credited = await outbox_events(accounts_app, program_id, "points_credited")
    assert sorted(e.amount for e in credited) == [1, 5, 10, 20, 30]
    verified = await accounts.verify()
    assert verified.consistent, verified.problems
