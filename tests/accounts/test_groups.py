"""Groups: a tree with moves that refuse cycles, deletes that refuse non-empty groups, listing
with member counts, and members of a group with or without its subtree."""

from __future__ import annotations

import asyncio

import grpc

from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, create_group, key, mask, page, refused

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def move(accounts: Accounts, group_id: str, parent: str) -> members_pb2.Group:
    reply = await accounts.call(
        "UpdateGroup",
        accounts_pb2.UpdateGroupRequest(
            idempotency_key=key(),
            group_id=group_id,
            changes=members_pb2.Group(parent_group_id=parent),
            update_mask=mask("parent_group_id"),
        ),
    )
    group: members_pb2.Group = reply.group
    return group


async def group_members(accounts: Accounts, group_id: str, subtree: bool) -> list[str]:
    reply = await accounts.call(
        "ListGroupMembers",
        accounts_pb2.ListGroupMembersRequest(group_id=group_id, include_subgroups=subtree),
    )
    return sorted(m.external_ref for m in reply.members)


async def test_tree_subtree_members_and_moves(accounts: Accounts) -> None:
    company = await create_group(accounts, "Company")
    sales = await create_group(accounts, "Sales", parent=company)
    tokyo = await create_group(accounts, "Tokyo", parent=sales)
    support = await create_group(accounts, "Support", parent=company)
    await accounts.enrol("g-ceo", group_ids=[company])
    await accounts.enrol("g-sales", group_ids=[sales])
    await accounts.enrol("g-tokyo", group_ids=[tokyo])
    await accounts.enrol("g-support", group_ids=[support])

    assert await group_members(accounts, sales, subtree=False) == ["g-sales"]
    assert await group_members(accounts, sales, subtree=True) == ["g-sales", "g-tokyo"]
    assert await group_members(accounts, company, subtree=True) == [
        "g-ceo",
        "g-sales",
        "g-support",
        "g-tokyo",
    ]

    # Move Tokyo (with its members) from Sales to Support.
    moved = await move(accounts, tokyo, support)
    assert moved.parent_group_id == support
    assert await group_members(accounts, sales, subtree=True) == ["g-sales"]
    assert await group_members(accounts, support, subtree=True) == ["g-support", "g-tokyo"]
    # Move Support (and Tokyo under it) to the top level.
    await move(accounts, support, "")
    assert await group_members(accounts, company, subtree=True) == ["g-ceo", "g-sales"]
    assert await group_members(accounts, support, subtree=True) == ["g-support", "g-tokyo"]


async def test_moves_that_would_make_a_cycle_are_refused(accounts: Accounts) -> None:
    top = await create_group(accounts, "Top")
    middle = await create_group(accounts, "Middle", parent=top)
    bottom = await create_group(accounts, "Bottom", parent=middle)
    for target in (top, middle, bottom):
        await refused(
            move(accounts, top, target),
            INVALID,
            field="changes.parent_group_id",
            reason="GROUP_CYCLE",
        )
    await refused(
        move(accounts, top, "missing"),
        grpc.StatusCode.NOT_FOUND,
        field="changes.parent_group_id",
        reason="GROUP_NOT_FOUND",
    )
    # Nothing moved: Bottom is still under Middle under Top.
    await accounts.enrol("deep", group_ids=[bottom])
    assert await group_members(accounts, top, subtree=True) == ["deep"]


async def test_update_delete_and_list_with_counts(accounts: Accounts) -> None:
    parent = await create_group(accounts, "Stores")
    child = await create_group(accounts, "Ginza", parent=parent)
    empty = await create_group(accounts, "Closed store", parent=parent)
    account_id = await accounts.enrol("l-1", group_ids=[child])

    renamed = await accounts.call(
        "UpdateGroup",
        accounts_pb2.UpdateGroupRequest(
            idempotency_key=key(),
            group_id=child,
            changes=members_pb2.Group(name="Ginza 6", description="Flagship", parent_group_id="x"),
            update_mask=mask("name", "description"),
        ),
    )
    assert (renamed.group.name, renamed.group.description) == ("Ginza 6", "Flagship")
    assert renamed.group.parent_group_id == parent  # not in the mask: unchanged
    assert renamed.group.member_count == 1

    failed = grpc.StatusCode.FAILED_PRECONDITION
    for busy in (parent, child):  # one has subgroups, the other a member
        await refused(
            accounts.call(
                "DeleteGroup", accounts_pb2.DeleteGroupRequest(idempotency_key=key(), group_id=busy)
            ),
            failed,
            field="group_id",
            reason="GROUP_NOT_EMPTY",
        )
    await accounts.call(
        "DeleteGroup", accounts_pb2.DeleteGroupRequest(idempotency_key=key(), group_id=empty)
    )

    children = await accounts.call(
        "ListGroups", accounts_pb2.ListGroupsRequest(parent_group_id=parent, page=page(1))
    )
    assert [(g.name, g.member_count) for g in children.groups] == [("Ginza 6", 1)]
    assert children.page.next_page_token == ""
    everything = await accounts.call("ListGroups", accounts_pb2.ListGroupsRequest(page=page(1)))
    second = await accounts.call(
        "ListGroups",
        accounts_pb2.ListGroupsRequest(page=page(1, everything.page.next_page_token)),
    )
    assert [g.name for g in [*everything.groups, *second.groups]] == ["Ginza 6", "Stores"]
    assert second.page.next_page_token == ""

    # Once the member leaves, the group can go.
    await accounts.call(
        "UpdateMember",
        accounts_pb2.UpdateMemberRequest(
            idempotency_key=key(),
            member=by_id(account_id),
            changes=members_pb2.Member(),
            update_mask=mask("group_ids"),
        ),
    )
    await accounts.call(
        "DeleteGroup", accounts_pb2.DeleteGroupRequest(idempotency_key=key(), group_id=child)
    )
    await refused(
        accounts.call("ListGroupMembers", accounts_pb2.ListGroupMembersRequest(group_id=child)),
        grpc.StatusCode.NOT_FOUND,
        field="group_id",
        reason="GROUP_NOT_FOUND",
    )


async def test_bad_group_requests_name_the_field(accounts: Accounts) -> None:
    async def create(name: str, parent: str = "", description: str = "") -> None:
        await accounts.call(
            "CreateGroup",
            accounts_pb2.CreateGroupRequest(
                idempotency_key=key(), name=name, parent_group_id=parent, description=description
            ),
        )

    await refused(create(""), INVALID, field="name")
    await refused(create("n" * 201), INVALID, field="name")
    await refused(create("tab\tname"), INVALID, field="name")
    await refused(create("ok", description="d" * 1001), INVALID, field="description")
    await refused(
        create("ok", parent="missing"), grpc.StatusCode.NOT_FOUND, field="parent_group_id"
    )
    await refused(create("ok", parent="p" * 37), INVALID, field="parent_group_id")
    group = await create_group(accounts, "Real")
    await refused(
        accounts.call(
            "UpdateGroup",
            accounts_pb2.UpdateGroupRequest(idempotency_key=key(), group_id=group),
        ),
        INVALID,
        field="update_mask",
    )
    await refused(
        accounts.call("ListGroupMembers", accounts_pb2.ListGroupMembersRequest()),
        INVALID,
        field="group_id",
    )
    await refused(
        accounts.call("ListGroups", accounts_pb2.ListGroupsRequest(page=page(10, "bad"))),
        INVALID,
        field="page.page_token",
    )
    listed = await accounts.call("ListGroups", accounts_pb2.ListGroupsRequest())
    assert [g.name for g in listed.groups] == ["Real"]


async def test_groups_nest_at_most_ten_deep(accounts: Accounts) -> None:
    parent = ""
    for level in range(10):
        parent = await create_group(accounts, f"L{level}", parent=parent)
    await refused(
        create_group(accounts, "L10", parent=parent),
        INVALID,
        field="parent_group_id",
        reason="GROUP_TOO_DEEP",
    )


async def test_concurrent_crossing_moves_never_make_a_cycle(accounts: Accounts) -> None:
    a = await create_group(accounts, "A")
    b = await create_group(accounts, "B")
    outcomes = await asyncio.gather(
        move(accounts, a, b), move(accounts, b, a), return_exceptions=True
    )
    failed = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(failed) == 1, outcomes  # the tree lock lets one through; the other sees a cycle
    assert failed[0].code() == INVALID
    listed = await accounts.call("ListGroups", accounts_pb2.ListGroupsRequest())
    assert sorted(g.parent_group_id != "" for g in listed.groups) == [False, True]
