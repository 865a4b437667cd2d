"""ListMembers and SearchMembers: filters, keyset pages with opaque tokens, bad pages."""

from __future__ import annotations

import grpc
import pytest

from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, card, create_group, key, page, refused


async def list_all(accounts: Accounts, request: accounts_pb2.ListMembersRequest) -> list[str]:
    """Every page, following next_page_token; the external refs in page order."""
    refs: list[str] = []
    token = ""
    while True:
        request.page.page_token = token
        reply = await accounts.call("ListMembers", request)
        refs += [m.external_ref for m in reply.members]
        token = reply.page.next_page_token
        if not token:
            return refs


async def test_pages_cover_every_member_once_in_enrolment_order(accounts: Accounts) -> None:
    refs = [f"p-{i:02}" for i in range(7)]
    for ref in refs:
        await accounts.enrol(ref)
    first = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest(page=page(3)))
    assert [m.external_ref for m in first.members] == refs[:3]
    assert first.page.next_page_token
    assert await list_all(accounts, accounts_pb2.ListMembersRequest(page=page(3))) == refs
    # A member enrolled meanwhile lands on a later page; earlier pages do not shift.
    await accounts.enrol("p-99")
    second = await accounts.call(
        "ListMembers",
        accounts_pb2.ListMembersRequest(page=page(3, first.page.next_page_token)),
    )
    assert [m.external_ref for m in second.members] == refs[3:6]


async def test_filters_by_group_subtree_status_and_tier(accounts: Accounts) -> None:
    region = await create_group(accounts, "Kanto")
    store = await create_group(accounts, "Shibuya", parent=region)
    other = await create_group(accounts, "Kansai")
    in_region = await accounts.enrol("f-region", group_ids=[region])
    await accounts.enrol("f-store", group_ids=[store])
    await accounts.enrol("f-other", group_ids=[other])
    await accounts.enrol("f-none")
    await accounts.call(
        "SuspendMember",
        accounts_pb2.SuspendMemberRequest(idempotency_key=key(), member=by_id(in_region)),
    )

    def listing(**filters: object) -> accounts_pb2.ListMembersRequest:
        return accounts_pb2.ListMembersRequest(page=page(2), **filters)  # type: ignore[arg-type]

    assert await list_all(accounts, listing(group_id=region)) == ["f-region"]
    assert await list_all(accounts, listing(group_id=region, include_subgroups=True)) == [
        "f-region",
        "f-store",
    ]
    assert await list_all(accounts, listing(group_id=region, include_subgroups=True, status=2)) == [
        "f-region"
    ]
    assert await list_all(accounts, listing(status=ledger_pb2.ACCOUNT_STATUS_ACTIVE)) == [
        "f-store",
        "f-other",
        "f-none",
    ]
    assert await list_all(accounts, listing(tier_id="gold")) == []


async def test_search_matches_name_email_phone_ref_and_identifiers(accounts: Accounts) -> None:
    await accounts.enrol("s-ref-777", display_name="Yamada Taro")
    await accounts.enrol("s-2", email="sato@example.jp")
    await accounts.enrol("s-3", phone="090-5555-0000")
    await accounts.enrol("s-4", identifiers=[card("CARD-4242")])
    await accounts.enrol("s-5", display_name="100%_literal")

    async def search(text: str) -> list[str]:
        reply = await accounts.call(
            "SearchMembers", accounts_pb2.SearchMembersRequest(query=text, page=page(50))
        )
        return [m.external_ref for m in reply.members]

    assert await search("yamada") == ["s-ref-777"]
    assert await search("REF-777") == ["s-ref-777"]
    assert await search("@example.jp") == ["s-2"]
    assert await search("5555") == ["s-3"]
    assert await search("card-4242") == ["s-4"]
    assert await search("%_") == ["s-5"]  # LIKE wildcards are matched literally
    assert await search("nobody") == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (accounts_pb2.ListMembersRequest(page=page(-1)), "page.page_size"),
        (accounts_pb2.ListMembersRequest(page=page(201)), "page.page_size"),
        (accounts_pb2.ListMembersRequest(page=page(10, "garbage!")), "page.page_token"),
        (accounts_pb2.ListMembersRequest(page=page(10, "WyJ4Il0")), "page.page_token"),
        (accounts_pb2.ListMembersRequest(status=99), "status"),  # type: ignore[arg-type]
    ],
)
async def test_bad_list_requests_are_invalid(
    accounts: Accounts, request_: accounts_pb2.ListMembersRequest, field: str
) -> None:
    await refused(
        accounts.call("ListMembers", request_), grpc.StatusCode.INVALID_ARGUMENT, field=field
    )


async def test_a_token_is_refused_with_other_filters_and_unknown_groups_are_not_found(
    accounts: Accounts,
) -> None:
    for i in range(3):
        await accounts.enrol(f"t-{i}")
    first = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest(page=page(1)))
    await refused(
        accounts.call(
            "ListMembers",
            accounts_pb2.ListMembersRequest(
                page=page(1, first.page.next_page_token), status=ledger_pb2.ACCOUNT_STATUS_ACTIVE
            ),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        field="page.page_token",
    )
    await refused(
        accounts.call("ListMembers", accounts_pb2.ListMembersRequest(group_id="nope")),
        grpc.StatusCode.NOT_FOUND,
        field="group_id",
        reason="GROUP_NOT_FOUND",
    )
    await refused(
        accounts.call("SearchMembers", accounts_pb2.SearchMembersRequest(query="  ")),
        grpc.StatusCode.INVALID_ARGUMENT,
        field="query",
    )
    await refused(
        accounts.call("SearchMembers", accounts_pb2.SearchMembersRequest(query="q" * 201)),
        grpc.StatusCode.INVALID_ARGUMENT,
        field="query",
    )


def test_identifier_kinds_match_the_proto_enum() -> None:
    from services.accounts.domain.members import IDENTIFIER_KINDS

    names = {
        n.removeprefix("IDENTIFIER_TYPE_").lower()
        for n in members_pb2.IdentifierType.keys()  # noqa: SIM118 (an enum wrapper, not a dict)
        if n != "IDENTIFIER_TYPE_UNSPECIFIED"
    }
    assert names == IDENTIFIER_KINDS
