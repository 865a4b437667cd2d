"""The NATS commands earn uses for imports and group grants: BatchCredit with a key per entry
(a retry that regroups entries credits nobody twice) and ListGroupMembers (a group's active
members, with or without its subgroups, a page at a time)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.errors import InvalidArgument, NotFound
from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tamaru.accounts.v1 import lookup_commands_pb2 as lc
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, create_group, key, outbox_events
from tests.support.services import create_program

IMPORT = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_IMPORT_ROW, id="file-1")


def entry(account_id: str, amount: int, entry_key: str) -> accounts_pb2.BatchCreditEntry:
    return accounts_pb2.BatchCreditEntry(
        member=by_id(account_id),
        amount=amount,
        source=IMPORT,
        reason="row",
        idempotency_key=entry_key,
    )


async def batch(
    client: CommandClient, accounts: Accounts, *entries: accounts_pb2.BatchCreditEntry
) -> c.LedgerCommandServiceBatchCreditResponse:
    return await client.call(
        "accounts",
        "BatchCredit",
        c.LedgerCommandServiceBatchCreditRequest(entries=entries, actor="earn:test"),
        c.LedgerCommandServiceBatchCreditResponse,
        program_id=accounts.program.program_id,
    )


async def test_entries_keyed_on_their_own_are_credited_once_however_batches_regroup(
    accounts: Accounts, accounts_app: ServiceApp, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    a, b, closed = await accounts.enrol(), await accounts.enrol(), await accounts.enrol()
    await accounts.call(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(idempotency_key=key(), member=by_id(closed)),
    )
    run = key()

    first = await batch(client, accounts, entry(a, 10, f"{run}:1"), entry(b, 20, f"{run}:2"))
    # The retry regroups: row 2 again, row 1 not at all, rows 3 and 4 new, row 5 a closed member.
    second = await batch(
        client,
        accounts,
        entry(b, 20, f"{run}:2"),
        entry(a, 30, f"{run}:3"),
        entry(b, 40, f"{run}:4"),
        entry(closed, 5, f"{run}:5"),
    )

    assert (first.credited, first.rejected) == (2, 0)
    assert (second.credited, second.rejected) == (3, 1)
    assert second.results[0].result == first.results[1].result  # the first credit, replayed
    assert second.results[3].error.field == "entries[3].account_id"
    assert second.results[3].error.reason == "ACCOUNT_CLOSED"
    assert [(await accounts.balance(m)).available for m in (a, b)] == [40, 60]
    events = await outbox_events(accounts_app, accounts.program.program_id, "points_credited")
    assert sorted(e.amount for e in events if e.account_id in (a, b)) == [10, 20, 30, 40]

    # A key reused for a different entry is refused on that entry alone; the refused row's key
    # was given back, so a corrected row 5 goes through under it.
    third = await batch(client, accounts, entry(a, 99, f"{run}:1"), entry(a, 1, f"{run}:5"))
    assert third.results[0].error.reason == "IDEMPOTENCY_KEY_REUSED"
    assert third.results[0].error.field == "entries[0].idempotency_key"
    assert third.results[1].HasField("result")
    assert (await accounts.balance(a)).available == 41
    assert (await accounts.verify()).consistent


async def test_concurrent_batches_sharing_keys_credit_each_key_once(
    accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    members = [await accounts.enrol() for _ in range(3)]
    run = key()
    entries = [entry(m, 7, f"{run}:{m}") for m in members]

    replies = await asyncio.gather(
        batch(client, accounts, *entries),
        batch(client, accounts, *reversed(entries)),
        batch(client, accounts, entries[1], entries[0]),
    )

    assert all(r.rejected == 0 for r in replies)
    assert [(await accounts.balance(m)).available for m in members] == [7, 7, 7]


async def test_a_batch_command_needs_a_key_on_every_entry_and_changes_nothing_without(
    accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    member = await accounts.enrol()
    with pytest.raises(InvalidArgument) as refused:
        await batch(client, accounts, entry(member, 5, key()), entry(member, 5, ""))
    assert refused.value.field == "entries[1].idempotency_key"
    with pytest.raises(InvalidArgument) as empty:
        await batch(client, accounts)
    assert empty.value.field == "entries"
    assert (await accounts.balance(member)).available == 0


async def list_group(
    client: CommandClient, accounts: Accounts, group_id: str, *, subgroups: bool, size: int = 0
) -> list[str]:
    found: list[str] = []
    token = ""
    while True:
        page = await client.call(
            "accounts",
            "ListGroupMembers",
            c.LedgerCommandServiceListGroupMembersRequest(
                group_id=group_id, include_subgroups=subgroups, page_size=size, page_token=token
            ),
            c.LedgerCommandServiceListGroupMembersResponse,
            program_id=accounts.program.program_id,
        )
        found.extend(page.account_ids)
        token = page.next_page_token
        if not token:
            return found


async def test_list_group_members_names_active_members_of_a_group_and_its_subtree(
    accounts: Accounts, admin_nc: Client, channel: grpc.aio.Channel, js: JetStreamContext
) -> None:
    client = CommandClient(admin_nc)
    sales = await create_group(accounts, "Sales")
    tokyo = await create_group(accounts, "Tokyo", parent=sales)
    direct = [await accounts.enrol(group_ids=[sales]) for _ in range(3)]
    below = [await accounts.enrol(group_ids=[tokyo]) for _ in range(2)]
    suspended = await accounts.enrol(group_ids=[tokyo])
    await accounts.call(
        "SuspendMember",
        accounts_pb2.SuspendMemberRequest(
            idempotency_key=key(), member=by_id(suspended), reason="leave"
        ),
    )
    await accounts.enrol()  # in no group

    assert await list_group(client, accounts, sales, subgroups=False) == direct
    assert await list_group(client, accounts, sales, subgroups=True, size=2) == direct + below
    assert await list_group(client, accounts, tokyo, subgroups=True) == below

    other = Accounts(channel, await create_program(js, ["accounts"]))
    with pytest.raises(NotFound) as unknown:
        await list_group(client, other, sales, subgroups=True)  # another program's group
    assert unknown.value.reason == "GROUP_NOT_FOUND"
    with pytest.raises(InvalidArgument):
        await list_group(client, accounts, sales, subgroups=True, size=10_001)


async def test_resolve_identifiers_answers_each_selector_in_order(
    accounts: Accounts, admin_nc: Client
) -> None:
    client = CommandClient(admin_nc)
    active = await accounts.enrol(ref="r-active")
    closed = await accounts.enrol()
    await accounts.call(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(idempotency_key=key(), member=by_id(closed)),
    )
    reply = await client.call(
        "accounts",
        "ResolveIdentifiers",
        lc.MemberLookupCommandServiceResolveIdentifiersRequest(
            members=[
                members_pb2.MemberSelector(external_ref="r-active"),
                members_pb2.MemberSelector(external_ref="nobody"),
                by_id(closed),
                members_pb2.MemberSelector(),
            ]
        ),
        lc.MemberLookupCommandServiceResolveIdentifiersResponse,
        program_id=accounts.program.program_id,
    )
    found = [(m.account_id, m.status, m.error.reason, m.error.field) for m in reply.members]
    assert found == [
        (active, ledger_pb2.ACCOUNT_STATUS_ACTIVE, "", ""),
        ("", 0, "MEMBER_NOT_FOUND", "members[1]"),
        (closed, ledger_pb2.ACCOUNT_STATUS_CLOSED, "", ""),
        ("", 0, "INVALID_ARGUMENT", "members[3]"),
    ]
