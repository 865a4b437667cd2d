"""Identifiers (link, unlink, resolve; unique per program and type) and merging members."""

from __future__ import annotations

import asyncio

import grpc

from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import (
    by_id,
    card,
    create_group,
    key,
    member,
    outbox_events,
    refused,
)


def app_id(value: str) -> members_pb2.IdentifierKey:
    return members_pb2.IdentifierKey(type=members_pb2.IDENTIFIER_TYPE_APP_ID, value=value)


async def link(
    accounts: Accounts, account_id: str, ident: members_pb2.IdentifierKey, **kw: bool
) -> accounts_pb2.LinkIdentifierResponse:
    reply: accounts_pb2.LinkIdentifierResponse = await accounts.call(
        "LinkIdentifier",
        accounts_pb2.LinkIdentifierRequest(
            idempotency_key=key(), member=by_id(account_id), identifier=ident, **kw
        ),
    )
    return reply


async def resolve(
    accounts: Accounts, ident: members_pb2.IdentifierKey
) -> accounts_pb2.ResolveIdentifierResponse:
    reply: accounts_pb2.ResolveIdentifierResponse = await accounts.call(
        "ResolveIdentifier", accounts_pb2.ResolveIdentifierRequest(identifier=ident)
    )
    return reply


async def test_link_resolve_unlink_and_events(accounts: Accounts, accounts_app: ServiceApp) -> None:
    account_id = await accounts.enrol("id-1")
    reply = await link(accounts, account_id, card("C-1"), primary=True)
    await link(accounts, account_id, card("C-2"))
    await link(accounts, account_id, app_id("app-user-1"))
    primaries = {(i.value, i.primary) for i in reply.member.identifiers}
    assert primaries == {("C-1", True)}

    found = await resolve(accounts, card("C-2"))
    assert (found.account_id, found.external_ref) == (account_id, "id-1")
    assert found.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE
    # The same value under another type is another identifier.
    await refused(resolve(accounts, app_id("C-2")), grpc.StatusCode.NOT_FOUND, field="identifier")

    # Making C-2 primary takes it from C-1 (one primary per type).
    again = await link(accounts, account_id, card("C-2"), primary=True)
    assert {i.value for i in again.member.identifiers if i.primary} == {"C-2"}

    after = await accounts.call(
        "UnlinkIdentifier",
        accounts_pb2.UnlinkIdentifierRequest(
            idempotency_key=key(), member=by_id(account_id), identifier=card("C-1")
        ),
    )
    assert sorted(i.value for i in after.member.identifiers) == ["C-2", "app-user-1"]
    await refused(resolve(accounts, card("C-1")), grpc.StatusCode.NOT_FOUND)

    program = accounts.program.program_id
    linked = await outbox_events(accounts_app, program, "identifier_linked")
    assert [e.identifier.value for e in linked] == ["C-1", "C-2", "app-user-1"]
    unlinked = await outbox_events(accounts_app, program, "identifier_unlinked")
    assert [(e.identifier.value, e.member_external_ref) for e in unlinked] == [("C-1", "id-1")]


async def test_an_identifier_names_one_member(accounts: Accounts) -> None:
    first = await accounts.enrol("one-1", identifiers=[card("SHARED")])
    second = await accounts.enrol("one-2")
    await refused(
        link(accounts, second, card("SHARED")),
        grpc.StatusCode.ALREADY_EXISTS,
        field="identifier",
        reason="IDENTIFIER_IN_USE",
    )
    await refused(
        accounts.enrol("one-3", identifiers=[card("SHARED")]),
        grpc.StatusCode.ALREADY_EXISTS,
        field="identifiers[0]",
        reason="IDENTIFIER_IN_USE",
    )
    await refused(
        accounts.call(
            "UnlinkIdentifier",
            accounts_pb2.UnlinkIdentifierRequest(
                idempotency_key=key(), member=by_id(second), identifier=card("SHARED")
            ),
        ),
        grpc.StatusCode.NOT_FOUND,
        field="identifier",
        reason="IDENTIFIER_NOT_FOUND",
    )
    assert (await resolve(accounts, card("SHARED"))).account_id == first
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest())
    assert sorted(m.external_ref for m in listed.members) == ["one-1", "one-2"]


async def test_bad_identifier_requests_name_the_field(accounts: Accounts) -> None:
    account_id = await accounts.enrol("bad-id")
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await refused(link(accounts, account_id, card("")), invalid, field="identifier.value")
    await refused(link(accounts, account_id, card("x" * 129)), invalid, field="identifier.value")
    await refused(
        link(accounts, account_id, members_pb2.IdentifierKey(value="v")),
        invalid,
        field="identifier.type",
    )
    await refused(
        link(accounts, account_id, members_pb2.IdentifierKey(type=42, value="v")),  # type: ignore[arg-type]
        invalid,
        field="identifier.type",
    )
    await refused(resolve(accounts, card("")), invalid, field="identifier.value")
    await refused(
        accounts.call(
            "LinkIdentifier",
            accounts_pb2.LinkIdentifierRequest(idempotency_key=key(), identifier=card("v")),
        ),
        invalid,
        field="member",
    )
    assert list((await member(accounts, account_id)).member.identifiers) == []


async def test_merge_moves_points_identifiers_and_groups_to_the_survivor(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    shared = await create_group(accounts, "Both")
    only_absorbed = await create_group(accounts, "Old store")
    survivor = await accounts.enrol("keep", identifiers=[card("K-1")], group_ids=[shared])
    absorbed = await accounts.enrol(
        "gone",
        identifiers=[card("G-1"), app_id("G-app")],
        group_ids=[shared, only_absorbed],
    )
    await link(accounts, absorbed, card("G-1"), primary=True)
    await link(accounts, survivor, card("K-1"), primary=True)
    await accounts.credit(survivor, 100)
    await accounts.credit(absorbed, 70)
    await accounts.debit(absorbed, 20)

    reply = await accounts.call(
        "MergeMembers",
        accounts_pb2.MergeMembersRequest(
            idempotency_key=key(),
            survivor=by_id(survivor),
            absorbed=members_pb2.MemberSelector(external_ref="gone"),
            reason="same person",
        ),
    )
    assert reply.moved_available == 50
    assert reply.moved_held == 0
    assert reply.transaction_id
    s = reply.survivor
    assert sorted(i.value for i in s.identifiers) == ["G-1", "G-app", "K-1"]
    assert {i.value for i in s.identifiers if i.primary} == {"K-1"}
    assert sorted(s.group_ids) == sorted([shared, only_absorbed])
    assert (await accounts.balance(survivor)).available == 150
    assert (await resolve(accounts, card("G-1"))).account_id == survivor

    gone = (await member(accounts, absorbed)).member
    assert gone.status == ledger_pb2.ACCOUNT_STATUS_MERGED
    assert gone.merged_into_account_id == survivor
    assert (list(gone.identifiers), list(gone.group_ids)) == ([], [])
    await refused(
        accounts.credit(absorbed, 1), grpc.StatusCode.FAILED_PRECONDITION, reason="ACCOUNT_MERGED"
    )
    members_of_old_store = await accounts.call(
        "ListGroupMembers", accounts_pb2.ListGroupMembersRequest(group_id=only_absorbed)
    )
    assert [m.account_id for m in members_of_old_store.members] == [survivor]

    merged = await outbox_events(accounts_app, accounts.program.program_id, "accounts_merged")
    assert [(e.survivor_account_id, e.absorbed_account_id) for e in merged] == [
        (survivor, absorbed)
    ]
    assert (await accounts.verify()).consistent


async def test_merge_refusals_change_nothing(accounts: Accounts) -> None:
    a = await accounts.enrol("ma", identifiers=[card("MA")])
    b = await accounts.enrol("mb", identifiers=[card("MB")])
    await accounts.credit(b, 30)

    async def merge(survivor: str, absorbed: str) -> None:
        await accounts.call(
            "MergeMembers",
            accounts_pb2.MergeMembersRequest(
                idempotency_key=key(), survivor=by_id(survivor), absorbed=by_id(absorbed)
            ),
        )

    await refused(
        merge(a, a), grpc.StatusCode.INVALID_ARGUMENT, field="absorbed", reason="SAME_ACCOUNT"
    )
    await refused(merge(a, "no-such-member"), grpc.StatusCode.NOT_FOUND, field="absorbed")
    await accounts.call(
        "CloseMember", accounts_pb2.CloseMemberRequest(idempotency_key=key(), member=by_id(a))
    )
    await refused(merge(a, b), grpc.StatusCode.FAILED_PRECONDITION, reason="ACCOUNT_CLOSED")
    assert (await resolve(accounts, card("MB"))).account_id == b
    assert (await accounts.balance(b)).available == 30
    assert (await member(accounts, b)).member.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE


async def test_two_members_racing_for_one_card_one_wins(accounts: Accounts) -> None:
    first = await accounts.enrol("race-1")
    second = await accounts.enrol("race-2")
    outcomes = await asyncio.gather(
        link(accounts, first, card("RACE")),
        link(accounts, second, card("RACE")),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert [f.code() for f in failed] == [grpc.StatusCode.ALREADY_EXISTS]
    owner = (await resolve(accounts, card("RACE"))).account_id
    assert owner in (first, second)
