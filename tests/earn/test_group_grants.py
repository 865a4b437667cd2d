"""Grants to a whole group or its subtree: active members only, each credited once even when a
retry finds the group changed, the granter role's reach, and the refusals."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.messaging.commands import CommandClient
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tamaru.earn.v1 import earn_pb2
from tests.earn.conftest import Earn, detail_of, member


async def new_group(earn: Earn, name: str, parent: str = "") -> str:
    reply = await earn.admin(
        "CreateGroup",
        accounts_pb2.CreateGroupRequest(
            idempotency_key=uuid.uuid4().hex, name=name, parent_group_id=parent
        ),
    )
    return str(reply.group.group_id)


async def enrol_in(earn: Earn, group_id: str) -> str:
    reply = await earn.admin(
        "EnrolMember",
        accounts_pb2.EnrolMemberRequest(
            idempotency_key=uuid.uuid4().hex,
            external_ref=uuid.uuid4().hex,
            group_ids=[group_id],
        ),
    )
    return str(reply.member.account_id)


def to_group(group_id: str, **fields: Any) -> earn_pb2.GrantPointsRequest:
    return earn_pb2.GrantPointsRequest(
        idempotency_key=uuid.uuid4().hex, group_id=group_id, criterion_id="tiny", **fields
    )


async def test_a_subtree_grant_credits_every_active_member_once(earn: Earn) -> None:
    sales = await new_group(earn, "Sales")
    tokyo = await new_group(earn, "Tokyo", sales)
    direct = [await enrol_in(earn, sales) for _ in range(2)]
    below = [await enrol_in(earn, tokyo) for _ in range(2)]
    away = await enrol_in(earn, tokyo)
    await earn.admin(
        "SuspendMember",
        accounts_pb2.SuspendMemberRequest(
            idempotency_key=uuid.uuid4().hex, member=member(away), reason="leave"
        ),
    )
    outsider = await earn.enrol()

    only_sales = await earn.as_role(Role.GRANTER).call("GrantPoints", to_group(sales))
    subtree = await earn.as_role(Role.GRANTER).call(
        "GrantPoints", to_group(sales, include_subgroups=True)
    )

    assert {r.account_id for r in only_sales.recipients} == set(direct)
    assert {r.account_id for r in subtree.recipients} == set(direct + below)
    assert [await earn.balance(m) for m in direct + below] == [2, 2, 1, 1]
    assert [await earn.balance(m) for m in (away, outsider)] == [0, 0]


async def test_a_retry_after_the_group_changed_credits_nobody_twice(
    earn: Earn, earn_nc: Client
) -> None:
    """A grant interrupted after accounts credited some members (earn crashed before its own
    commit) is finished by the client's retry: the members already credited are not credited
    again, and a member who joined the group meanwhile is."""
    team = await new_group(earn, "Team")
    first = [await enrol_in(earn, team) for _ in range(3)]
    request = to_group(team)
    # What the interrupted attempt got done: accounts credited the first two members.
    await CommandClient(earn_nc).call(
        "accounts",
        "BatchCredit",
        c.LedgerCommandServiceBatchCreditRequest(
            entries=[
                accounts_pb2.BatchCreditEntry(
                    member=member(account_id),
                    amount=1,
                    kind="normal",
                    source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_CRITERION, id="tiny"),
                    reason="Tiny",
                    sponsor_funded=True,
                    idempotency_key=f"earn:grant:{request.idempotency_key}:{account_id}",
                )
                for account_id in first[:2]
            ]
        ),
        c.LedgerCommandServiceBatchCreditResponse,
        program_id=earn.program.program_id,
    )
    joined = await enrol_in(earn, team)

    done = await earn.call("GrantPoints", request)

    assert {r.account_id for r in done.recipients} == {*first, joined}
    assert [await earn.balance(m) for m in (*first, joined)] == [1, 1, 1, 1]
    assert await earn.call("GrantPoints", request) == done  # a finished grant replays


@pytest.mark.parametrize(
    ("fields", "code", "field", "reason"),
    [
        ({"group_id": "nope"}, grpc.StatusCode.NOT_FOUND, "group_id", "GROUP_NOT_FOUND"),
        ({"include_subgroups": True}, grpc.StatusCode.INVALID_ARGUMENT, "include_subgroups", ""),
    ],
)
async def test_bad_group_grants_name_the_field(
    earn: Earn, fields: dict[str, Any], code: grpc.StatusCode, field: str, reason: str
) -> None:
    request = earn_pb2.GrantPointsRequest(
        idempotency_key=uuid.uuid4().hex, criterion_id="tiny", **fields
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call("GrantPoints", request)
    assert err.value.code() == code
    assert detail_of(err.value).field == field
    if reason:
        assert detail_of(err.value).reason == reason


async def test_an_empty_group_or_members_and_a_group_together_are_refused(earn: Earn) -> None:
    empty = await new_group(earn, "Empty")
    someone = await earn.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call("GrantPoints", to_group(empty))
    assert detail_of(err.value).reason == "GROUP_EMPTY"
    both = to_group(empty)
    both.members.append(member(someone))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call("GrantPoints", both)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await earn.balance(someone) == 0


async def test_another_programs_group_is_not_found(earn: Earn, earn_js: JetStreamContext) -> None:
    from tests.earn.conftest import new_program

    theirs = await new_group(earn, "Theirs")
    await enrol_in(earn, theirs)
    criteria = [{"id": "tiny", "name": "T", "points": 1}]
    other = earn.as_program(await new_program(earn_js, grantCriteria=criteria))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await other.call("GrantPoints", to_group(theirs))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
