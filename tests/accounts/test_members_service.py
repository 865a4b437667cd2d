"""Members through gRPC against PostgreSQL: profiles, updates, status changes and their effect
on the ledger, and bad input that names its field and changes nothing."""

from __future__ import annotations

import grpc
import pytest

from runtime.service import ServiceApp
from services.accounts.entrypoints.access_policy import SERVICE
from services.accounts.entrypoints.grpc_servicer import AccountsServicer
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import (
    by_id,
    card,
    create_group,
    key,
    mask,
    member,
    outbox_events,
    refused,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FAILED = grpc.StatusCode.FAILED_PRECONDITION


def test_the_servicer_implements_every_method() -> None:
    generated = accounts_pb2_grpc.AccountsServiceServicer
    left_to_base = [
        m.name
        for m in SERVICE.methods
        if getattr(AccountsServicer, m.name) is getattr(generated, m.name)
    ]
    assert left_to_base == []  # each would answer UNIMPLEMENTED


async def test_enrol_with_full_profile_and_get_member_with_balance(accounts: Accounts) -> None:
    store = await create_group(accounts, "Shibuya")
    team = await create_group(accounts, "Team A")
    account_id = await accounts.enrol(
        "m-1",
        display_name="Hanako",
        email="hanako@example.jp",
        phone="+81 90-1234-5678",
        birth_date="1990-04-01",
        attributes={"department": "sales", "size": "M"},
        identifiers=[card("C-100")],
        group_ids=[team, store],
    )
    await accounts.credit(account_id, 250)
    reply = await member(accounts, account_id)
    m = reply.member
    assert (m.external_ref, m.display_name, m.email) == ("m-1", "Hanako", "hanako@example.jp")
    assert (m.phone, m.birth_date) == ("+81 90-1234-5678", "1990-04-01")
    assert dict(m.attributes) == {"department": "sales", "size": "M"}
    assert sorted(m.group_ids) == sorted([team, store])
    assert [(i.type, i.value) for i in m.identifiers] == [
        (members_pb2.IDENTIFIER_TYPE_CARD_NUMBER, "C-100")
    ]
    assert m.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE
    assert reply.balance.available == 250
    assert m.enrolled_at.seconds > 0
    assert m.updated_at.seconds > 0


async def test_update_member_changes_only_the_masked_fields(accounts: Accounts) -> None:
    group = await create_group(accounts, "G")
    account_id = await accounts.enrol("u-1", display_name="Old", email="old@example.jp")
    reply = await accounts.call(
        "UpdateMember",
        accounts_pb2.UpdateMemberRequest(
            idempotency_key=key(),
            member=by_id(account_id),
            changes=members_pb2.Member(
                display_name="New",
                email="ignored@example.jp",
                attributes={"k": "v"},
                group_ids=[group],
                external_ref="u-2",
            ),
            update_mask=mask("display_name", "attributes", "group_ids", "external_ref"),
        ),
    )
    m = reply.member
    assert (m.display_name, m.email, m.external_ref) == ("New", "old@example.jp", "u-2")
    assert dict(m.attributes) == {"k": "v"}
    assert list(m.group_ids) == [group]
    # The new external ref selects the member.
    found = await accounts.call(
        "GetMember",
        accounts_pb2.GetMemberRequest(member=members_pb2.MemberSelector(external_ref="u-2")),
    )
    assert found.member.account_id == account_id


async def test_update_member_refusals_name_the_field_and_change_nothing(
    accounts: Accounts,
) -> None:
    account_id = await accounts.enrol("r-1", display_name="Keep")
    await accounts.enrol("r-2")

    async def update(changes: members_pb2.Member, *paths: str) -> None:
        await accounts.call(
            "UpdateMember",
            accounts_pb2.UpdateMemberRequest(
                idempotency_key=key(),
                member=by_id(account_id),
                changes=changes,
                update_mask=mask(*paths),
            ),
        )

    await refused(update(members_pb2.Member()), INVALID, field="update_mask")
    await refused(update(members_pb2.Member(), "status"), INVALID, field="update_mask")
    await refused(
        update(members_pb2.Member(display_name="x" * 201), "display_name"),
        INVALID,
        field="changes.display_name",
    )
    await refused(
        update(members_pb2.Member(display_name="bad\x00name"), "display_name"),
        INVALID,
        field="changes.display_name",
    )
    await refused(
        update(members_pb2.Member(email="not-an-email"), "email"), INVALID, field="changes.email"
    )
    await refused(
        update(members_pb2.Member(birth_date="1990-13-01"), "birth_date"),
        INVALID,
        field="changes.birth_date",
    )
    await refused(
        update(members_pb2.Member(phone="call me"), "phone"), INVALID, field="changes.phone"
    )
    await refused(
        update(members_pb2.Member(external_ref=""), "external_ref"),
        INVALID,
        field="changes.external_ref",
    )
    await refused(
        update(members_pb2.Member(group_ids=["no-such-group"]), "group_ids"),
        grpc.StatusCode.NOT_FOUND,
        field="changes.group_ids[0]",
        reason="GROUP_NOT_FOUND",
    )
    await refused(
        update(members_pb2.Member(external_ref="r-2"), "external_ref"),
        grpc.StatusCode.ALREADY_EXISTS,
        field="changes.external_ref",
        reason="MEMBER_EXISTS",
    )
    m = (await member(accounts, account_id)).member
    assert (m.display_name, m.external_ref, m.email, list(m.group_ids)) == ("Keep", "r-1", "", [])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"display_name": "n" * 201}, "display_name"),
        ({"email": "nope"}, "email"),
        ({"phone": "12ab"}, "phone"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "19900101"}, "birth_date"),
        ({"attributes": {"bad key!": "v"}}, "attributes"),
        ({"attributes": {"k": "v" * 501}}, "attributes[k]"),
        ({"external_ref": "r" * 129}, "external_ref"),
        ({"identifiers": [card("")]}, "identifiers[0].value"),
        (
            {"identifiers": [members_pb2.IdentifierKey(value="x")]},
            "identifiers[0].type",
        ),
        ({"group_ids": ["missing"]}, "group_ids[0]"),
    ],
)
async def test_bad_enrolment_is_refused_naming_the_field(
    accounts: Accounts, fields: dict[str, object], field: str
) -> None:
    code = grpc.StatusCode.NOT_FOUND if field.startswith("group_ids") else INVALID
    ref = str(fields.pop("external_ref", "bad-1"))
    await refused(accounts.enrol(ref, **fields), code, field=field)
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest())
    assert list(listed.members) == []


async def test_suspended_member_can_earn_but_not_spend_and_reactivation_restores_it(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    account_id = await accounts.enrol("s-1")
    await accounts.credit(account_id, 100)
    reply = await accounts.call(
        "SuspendMember",
        accounts_pb2.SuspendMemberRequest(
            idempotency_key=key(), member=by_id(account_id), reason="fraud check"
        ),
    )
    assert reply.member.status == ledger_pb2.ACCOUNT_STATUS_SUSPENDED
    await refused(accounts.debit(account_id, 10), FAILED, reason="ACCOUNT_SUSPENDED")
    await accounts.credit(account_id, 5)  # a suspended account still receives points

    again = await accounts.call(
        "SuspendMember",
        accounts_pb2.SuspendMemberRequest(idempotency_key=key(), member=by_id(account_id)),
    )
    assert again.member.status == ledger_pb2.ACCOUNT_STATUS_SUSPENDED  # a no-op, not an error

    back = await accounts.call(
        "ReactivateMember",
        accounts_pb2.ReactivateMemberRequest(idempotency_key=key(), member=by_id(account_id)),
    )
    assert back.member.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE
    debit = await accounts.debit(account_id, 10)
    assert debit.balance.available == 95

    changes = await outbox_events(
        accounts_app, accounts.program.program_id, "member_status_changed"
    )
    assert [(e.old_status, e.new_status) for e in changes] == [
        (ledger_pb2.ACCOUNT_STATUS_ACTIVE, ledger_pb2.ACCOUNT_STATUS_SUSPENDED),
        (ledger_pb2.ACCOUNT_STATUS_SUSPENDED, ledger_pb2.ACCOUNT_STATUS_ACTIVE),
    ]
    assert changes[0].reason == "fraud check"
    assert changes[0].member_external_ref == "s-1"


async def test_closed_member_keeps_its_data_and_takes_no_movements(accounts: Accounts) -> None:
    account_id = await accounts.enrol("c-1", display_name="Leaving")
    await accounts.credit(account_id, 40)
    closed = await accounts.call(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(
            idempotency_key=key(), member=by_id(account_id), reason="asked to leave"
        ),
    )
    assert closed.member.status == ledger_pb2.ACCOUNT_STATUS_CLOSED
    await refused(accounts.credit(account_id, 1), FAILED, reason="ACCOUNT_CLOSED")
    await refused(accounts.debit(account_id, 1), FAILED, reason="ACCOUNT_CLOSED")
    await refused(
        accounts.call(
            "ReactivateMember",
            accounts_pb2.ReactivateMemberRequest(idempotency_key=key(), member=by_id(account_id)),
        ),
        FAILED,
        reason="ACCOUNT_CLOSED",
    )
    reply = await member(accounts, account_id)
    assert reply.member.display_name == "Leaving"
    assert reply.balance.available == 40
    assert (await accounts.verify()).consistent


async def test_status_change_replays_with_its_idempotency_key(accounts: Accounts) -> None:
    account_id = await accounts.enrol("i-1")
    request = accounts_pb2.SuspendMemberRequest(
        idempotency_key="suspend-once", member=by_id(account_id)
    )
    first = await accounts.call("SuspendMember", request)
    await accounts.call(
        "ReactivateMember",
        accounts_pb2.ReactivateMemberRequest(idempotency_key=key(), member=by_id(account_id)),
    )
    replay = await accounts.call("SuspendMember", request)
    assert replay == first  # the stored first response, not a second suspension
    assert (await member(accounts, account_id)).member.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE
    await refused(
        accounts.call(
            "SuspendMember",
            accounts_pb2.SuspendMemberRequest(
                idempotency_key="suspend-once", member=by_id(account_id), reason="other"
            ),
        ),
        INVALID,
        reason="IDEMPOTENCY_KEY_REUSED",
    )
