"""BatchCredit through gRPC: members named any way, per-entry refusals that change nothing,
one event per credit, replay by idempotency key, and the size limit."""

from __future__ import annotations

import grpc

from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, card, key, outbox_events, refused

ADMIN = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN)


def entry(member: members_pb2.MemberSelector, amount: int) -> accounts_pb2.BatchCreditEntry:
    return accounts_pb2.BatchCreditEntry(member=member, amount=amount, source=ADMIN, reason="mvp")


async def test_a_batch_credits_each_member_however_named_and_refuses_entries_one_by_one(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    by_account = await accounts.enrol()
    by_ref = await accounts.enrol(ref="emp-0042")
    by_card = await accounts.enrol()
    await accounts.call(
        "LinkIdentifier",
        accounts_pb2.LinkIdentifierRequest(
            idempotency_key=key(), member=by_id(by_card), identifier=card("C-77")
        ),
    )
    request = accounts_pb2.BatchCreditRequest(
        idempotency_key=key(),
        entries=[
            entry(by_id(by_account), 100),
            entry(members_pb2.MemberSelector(external_ref="emp-0042"), 200),
            entry(members_pb2.MemberSelector(identifier=card("C-77")), 300),
            entry(members_pb2.MemberSelector(external_ref="nobody"), 400),
            entry(members_pb2.MemberSelector(), 500),
            entry(by_id(by_account), -1),
            entry(by_id(by_ref), 50),  # a member twice in one batch gets both credits
        ],
    )

    reply = await accounts.call("BatchCredit", request)

    assert (reply.credited, reply.rejected) == (4, 3)
    assert [r.index for r in reply.results] == list(range(7))
    refusals = {r.index: (r.error.field, r.error.reason) for r in reply.results if r.error.field}
    assert refusals == {
        3: ("entries[3].member", "MEMBER_NOT_FOUND"),
        4: ("entries[4].member", "INVALID_ARGUMENT"),
        5: ("entries[5].amount", "INVALID_ARGUMENT"),
    }
    credited = {r.index: r.result.account_id for r in reply.results if r.HasField("result")}
    assert credited == {0: by_account, 1: by_ref, 2: by_card, 6: by_ref}
    balances = [(await accounts.balance(m)).available for m in (by_account, by_ref, by_card)]
    assert balances == [100, 250, 300]

    events = await outbox_events(accounts_app, accounts.program.program_id, "points_credited")
    assert sorted(e.amount for e in events) == [50, 100, 200, 300]
    assert len({e.transaction_id for e in events}) == 4

    again = await accounts.call("BatchCredit", request)
    assert again == reply
    assert [(await accounts.balance(m)).available for m in (by_account, by_ref, by_card)] == [
        100,
        250,
        300,
    ]
    assert (await accounts.verify()).consistent


async def test_an_empty_or_oversized_batch_is_refused_and_changes_nothing(
    accounts: Accounts,
) -> None:
    member = await accounts.enrol()
    for size in (0, 10_001):
        request = accounts_pb2.BatchCreditRequest(
            idempotency_key=key(), entries=[entry(by_id(member), 1)] * size
        )
        await refused(
            accounts.call("BatchCredit", request), grpc.StatusCode.INVALID_ARGUMENT, field="entries"
        )
    assert (await accounts.balance(member)).available == 0
