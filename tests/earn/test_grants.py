"""Grants by criterion or free amount, to member lists; who may grant."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from runtime.auth import Role
from tamaru.earn.v1 import earn_pb2
from tests.earn.conftest import Earn, detail_of, member


def grant(*account_ids: str, **fields: Any) -> earn_pb2.GrantPointsRequest:
    fields.setdefault("idempotency_key", uuid.uuid4().hex)
    return earn_pb2.GrantPointsRequest(members=[member(a) for a in account_ids], **fields)


async def test_criteria_are_listed_from_the_program_config(earn: Earn) -> None:
    reply = await earn.as_role(Role.GRANTER).call(
        "ListGrantCriteria", earn_pb2.ListGrantCriteriaRequest()
    )
    assert [(c.id, c.points, c.sponsor_funded) for c in reply.criteria] == [
        ("annual_mvp", 30000, True),
        ("service_1y", 5000, False),
        ("tiny", 1, True),
    ]
    assert reply.allow_free_amount_grants


async def test_a_criterion_grant_credits_every_member_once(earn: Earn) -> None:
    a, b, c = [await earn.enrol() for _ in range(3)]
    request = grant(a, b, c, criterion_id="annual_mvp")
    granter = earn.as_role(Role.GRANTER)
    reply = await granter.call("GrantPoints", request)
    assert reply.points_per_member == 30000
    assert {r.account_id for r in reply.recipients} == {a, b, c}
    assert await granter.call("GrantPoints", request) == reply  # a retry grants nothing more
    assert [await earn.balance(x) for x in (a, b, c)] == [30000] * 3


async def test_a_one_point_grant_and_a_free_amount_grant(earn: Earn) -> None:
    a = await earn.enrol()
    await earn.call("GrantPoints", grant(a, criterion_id="tiny"))
    await earn.call("GrantPoints", grant(a, amount=250, reason="helped at the fair"))
    assert await earn.balance(a) == 251


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"criterion_id": "nope"}, grpc.StatusCode.NOT_FOUND, "criterion_id"),
        ({"criterion_id": "tiny", "amount": 5}, grpc.StatusCode.INVALID_ARGUMENT, "amount"),
        ({"amount": 0, "reason": "x"}, grpc.StatusCode.INVALID_ARGUMENT, "amount"),
        ({"amount": 10}, grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (
            {"amount": 10, "reason": "x", "point_kind": "zzz"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "point_kind",
        ),
    ],
)
async def test_bad_grants_name_the_field(
    earn: Earn, fields: dict[str, Any], code: grpc.StatusCode, field: str
) -> None:
    a = await earn.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call("GrantPoints", grant(a, **fields))
    assert err.value.code() == code
    assert detail_of(err.value).field == field
    assert await earn.balance(a) == 0


async def test_one_bad_member_refuses_the_whole_grant(earn: Earn) -> None:
    a = await earn.enrol()
    for members, field in (((a, "ghost"), "members[1]"), ((a, a), "members[1]")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await earn.call("GrantPoints", grant(*members, criterion_id="tiny"))
        assert detail_of(err.value).field == field
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call("GrantPoints", grant(criterion_id="tiny"))
    assert detail_of(err.value).field == "members"
    assert await earn.balance(a) == 0


async def test_free_amount_grants_need_the_program_setting(earn_js: Any, channels: Any) -> None:
    from tests.earn.conftest import new_program

    strict = Earn(channels, await new_program(earn_js))
    a = await strict.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await strict.call("GrantPoints", grant(a, amount=10, reason="x"))
    assert detail_of(err.value).reason == "FREE_AMOUNT_GRANTS_DISABLED"
