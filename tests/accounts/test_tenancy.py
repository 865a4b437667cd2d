"""Tenant isolation and roles across AccountsService.

A member, group or news post of program A does not exist for program B's keys: every read and
mutation answers NOT_FOUND (a card token: CARD_TOKEN_INVALID) and changes nothing in A, and
listings with B's key never show A's members. Roles: granter is refused everywhere here,
readonly may only look, backend may not do administrators' work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest_asyncio
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.service import ServiceApp
from services.accounts.entrypoints.access_policy import ADMIN_ONLY, BACKEND, READ, SERVICE
from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import (
    by_id,
    card,
    create_group,
    key,
    mask,
    member,
    page,
    refused,
)
from tests.support.services import create_program

NOT_FOUND = grpc.StatusCode.NOT_FOUND
DENIED = grpc.StatusCode.PERMISSION_DENIED


@pytest_asyncio.fixture(loop_scope="session")
async def intruder(
    accounts_app: ServiceApp, js: JetStreamContext, channel: grpc.aio.Channel
) -> Accounts:
    """Program B's admin, with a member of its own."""
    return Accounts(channel, await create_program(js, ["accounts"]))


async def import_stream(
    header_only: bool = False,
) -> AsyncIterator[accounts_pb2.ImportMembersRequest]:
    yield accounts_pb2.ImportMembersRequest(
        header=accounts_pb2.ImportMembersHeader(
            idempotency_key=key(), mode=accounts_pb2.IMPORT_MODE_UPSERT
        )
    )
    if not header_only:
        yield accounts_pb2.ImportMembersRequest(chunk=b"external_ref,display_name\na-1,Hijacked\n")


async def exported_refs(accounts: Accounts) -> list[str]:
    call = accounts.stub.ExportMembers(
        accounts_pb2.ExportMembersRequest(), metadata=accounts.program.metadata(accounts.role)
    )
    data = b"".join([reply.chunk async for reply in call])
    return [line.split(",")[0] for line in data.decode().splitlines()[1:]]


async def test_program_b_cannot_see_or_touch_program_a(
    accounts: Accounts, intruder: Accounts
) -> None:
    group = await create_group(accounts, "A's group")
    victim = await accounts.enrol("a-1", display_name="Alice", identifiers=[card("A-CARD")])
    await accounts.credit(victim, 100)
    news = await accounts.call(
        "PostNews", accounts_pb2.PostNewsRequest(idempotency_key=key(), title="A", body="A")
    )
    token = (
        await accounts.call(
            "IssueCardToken",
            accounts_pb2.IssueCardTokenRequest(idempotency_key=key(), member=by_id(victim)),
        )
    ).token
    own = await intruder.enrol("b-1")
    a_member = by_id(victim)
    a_ref = members_pb2.MemberSelector(external_ref="a-1")
    a_card = members_pb2.MemberSelector(identifier=card("A-CARD"))

    calls: list[tuple[str, Any]] = [
        ("GetMember", accounts_pb2.GetMemberRequest(member=a_member)),
        ("GetMember", accounts_pb2.GetMemberRequest(member=a_ref)),
        ("GetMember", accounts_pb2.GetMemberRequest(member=a_card)),
        (
            "UpdateMember",
            accounts_pb2.UpdateMemberRequest(
                idempotency_key=key(),
                member=a_member,
                changes=members_pb2.Member(display_name="Mallory"),
                update_mask=mask("display_name"),
            ),
        ),
        (
            "SuspendMember",
            accounts_pb2.SuspendMemberRequest(idempotency_key=key(), member=a_member),
        ),
        (
            "ReactivateMember",
            accounts_pb2.ReactivateMemberRequest(idempotency_key=key(), member=a_member),
        ),
        ("CloseMember", accounts_pb2.CloseMemberRequest(idempotency_key=key(), member=a_ref)),
        (
            "LinkIdentifier",
            accounts_pb2.LinkIdentifierRequest(
                idempotency_key=key(), member=a_member, identifier=card("B-CARD")
            ),
        ),
        (
            "UnlinkIdentifier",
            accounts_pb2.UnlinkIdentifierRequest(
                idempotency_key=key(), member=a_member, identifier=card("A-CARD")
            ),
        ),
        ("ResolveIdentifier", accounts_pb2.ResolveIdentifierRequest(identifier=card("A-CARD"))),
        (
            "MergeMembers",
            accounts_pb2.MergeMembersRequest(
                idempotency_key=key(), survivor=by_id(own), absorbed=a_member
            ),
        ),
        (
            "MergeMembers",
            accounts_pb2.MergeMembersRequest(
                idempotency_key=key(), survivor=a_member, absorbed=by_id(own)
            ),
        ),
        (
            "IssueCardToken",
            accounts_pb2.IssueCardTokenRequest(idempotency_key=key(), member=a_member),
        ),
        (
            "SetManualTier",
            accounts_pb2.SetManualTierRequest(
                idempotency_key=key(), member=a_member, tier_id="", reason="r"
            ),
        ),
        ("ListMembers", accounts_pb2.ListMembersRequest(group_id=group)),
        ("ListGroupMembers", accounts_pb2.ListGroupMembersRequest(group_id=group)),
        ("ListGroups", accounts_pb2.ListGroupsRequest(parent_group_id=group)),
        (
            "CreateGroup",
            accounts_pb2.CreateGroupRequest(idempotency_key=key(), name="x", parent_group_id=group),
        ),
        (
            "UpdateGroup",
            accounts_pb2.UpdateGroupRequest(
                idempotency_key=key(),
                group_id=group,
                changes=members_pb2.Group(name="Taken"),
                update_mask=mask("name"),
            ),
        ),
        ("DeleteGroup", accounts_pb2.DeleteGroupRequest(idempotency_key=key(), group_id=group)),
        (
            "EnrolMember",
            accounts_pb2.EnrolMemberRequest(idempotency_key=key(), group_ids=[group]),
        ),
        (
            "PostNews",
            accounts_pb2.PostNewsRequest(
                idempotency_key=key(), title="t", body="b", group_ids=[group]
            ),
        ),
        (
            "UpdateNews",
            accounts_pb2.UpdateNewsRequest(
                idempotency_key=key(),
                news_id=news.news.news_id,
                changes=members_pb2.NewsPost(title="Defaced"),
                update_mask=mask("title"),
            ),
        ),
        (
            "UnpublishNews",
            accounts_pb2.UnpublishNewsRequest(idempotency_key=key(), news_id=news.news.news_id),
        ),
        ("ListNews", accounts_pb2.ListNewsRequest(member=a_member)),
        ("GetBalance", accounts_pb2.GetBalanceRequest(member=a_member)),
    ]
    for method, request in calls:
        await refused(intruder.call(method, request), NOT_FOUND)
    await refused(
        intruder.call("ResolveCardToken", accounts_pb2.ResolveCardTokenRequest(token=token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason="CARD_TOKEN_INVALID",
    )
    await refused(
        intruder.stub.ExportMembers(
            accounts_pb2.ExportMembersRequest(group_id=group),
            metadata=intruder.program.metadata(),
        ).read(),
        NOT_FOUND,
    )

    # Listings and exports with B's key show B's members only; an import with A's refs
    # enrols B's own member.
    listed = await intruder.call("ListMembers", accounts_pb2.ListMembersRequest(page=page(200)))
    assert [m.account_id for m in listed.members] == [own]
    searched = await intruder.call("SearchMembers", accounts_pb2.SearchMembersRequest(query="a-1"))
    assert list(searched.members) == []
    groups = await intruder.call("ListGroups", accounts_pb2.ListGroupsRequest())
    assert list(groups.groups) == []
    all_news = await intruder.call(
        "ListNews", accounts_pb2.ListNewsRequest(include_unpublished=True)
    )
    assert list(all_news.news) == []
    imported = await intruder.stub.ImportMembers(
        import_stream(), metadata=intruder.program.metadata()
    )
    assert (imported.enrolled, imported.updated) == (1, 0)
    assert sorted(await exported_refs(intruder)) == ["a-1", "b-1"]

    # A is untouched.
    a = await member(accounts, victim)
    assert (a.member.display_name, a.member.status) == ("Alice", 1)
    assert [i.value for i in a.member.identifiers] == ["A-CARD"]
    assert a.balance.available == 100
    assert await exported_refs(accounts) == ["a-1"]
    a_groups = await accounts.call("ListGroups", accounts_pb2.ListGroupsRequest())
    assert [g.name for g in a_groups.groups] == ["A's group"]
    a_news = await accounts.call("ListNews", accounts_pb2.ListNewsRequest())
    assert [n.title for n in a_news.news] == ["A"]


def _empty_call(accounts: Accounts, method: str) -> Callable[[], Awaitable[Any]]:
    descriptor = SERVICE.methods_by_name[method]
    metadata = accounts.program.metadata(accounts.role)
    stub_method = getattr(accounts.stub, method)
    if descriptor.client_streaming:
        return lambda: stub_method(import_stream(header_only=True), metadata=metadata)
    request = getattr(accounts_pb2, descriptor.input_type.name)()
    if descriptor.server_streaming:
        return lambda: stub_method(request, metadata=metadata).read()
    return lambda: stub_method(request, metadata=metadata)


async def test_granter_is_refused_every_method(accounts: Accounts) -> None:
    granter = accounts.as_role(Role.GRANTER)
    for method in SERVICE.methods_by_name:
        await refused(_empty_call(granter, method)(), DENIED)


async def test_readonly_may_look_but_not_change(accounts: Accounts) -> None:
    account_id = await accounts.enrol("ro-1")
    readonly = accounts.as_role(Role.READONLY)
    for method in sorted(BACKEND | ADMIN_ONLY):
        await refused(_empty_call(readonly, method)(), DENIED)
    looked = await readonly.call(
        "GetMember", accounts_pb2.GetMemberRequest(member=by_id(account_id))
    )
    assert looked.member.external_ref == "ro-1"
    assert READ  # the read set is what readonly keeps


async def test_backend_may_identify_members_but_not_administer_them(accounts: Accounts) -> None:
    account_id = await accounts.enrol("be-1")
    backend = accounts.as_role(Role.BACKEND)
    for method in sorted(ADMIN_ONLY):
        await refused(_empty_call(backend, method)(), DENIED)
    await refused(
        backend.call(
            "SuspendMember",
            accounts_pb2.SuspendMemberRequest(idempotency_key=key(), member=by_id(account_id)),
        ),
        DENIED,
    )
    linked = await backend.call(
        "LinkIdentifier",
        accounts_pb2.LinkIdentifierRequest(
            idempotency_key=key(), member=by_id(account_id), identifier=card("BE-CARD")
        ),
    )
    assert [i.value for i in linked.member.identifiers] == ["BE-CARD"]
    assert (await member(accounts, account_id)).member.status == 1  # still active
