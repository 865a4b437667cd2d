"""Roles (the granter may only grant) and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from runtime.auth import Role
from services.earn.entrypoints.access_policy import POLICY, SERVICE
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.earn.conftest import Earn, member, new_program


def test_every_method_is_in_the_policy() -> None:
    assert POLICY.missing_methods(SERVICE) == []


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("RecordPurchase", earn_pb2.RecordPurchaseRequest()),
        ("PreviewPurchase", earn_pb2.PreviewPurchaseRequest()),
        ("RecordReturn", earn_pb2.RecordReturnRequest()),
        ("ListPurchases", earn_pb2.ListPurchasesRequest()),
        ("SendThanks", earn_pb2.SendThanksRequest()),
        ("ListThanksTimeline", earn_pb2.ListThanksTimelineRequest()),
        ("RecordBehaviour", earn_pb2.RecordBehaviourRequest()),
    ],
)
async def test_the_granter_may_only_grant(earn: Earn, method: str, request_: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.as_role(Role.GRANTER).call(method, request_)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_readonly_and_backend_may_not_grant(earn: Earn) -> None:
    a = await earn.enrol()
    request = earn_pb2.GrantPointsRequest(
        idempotency_key=uuid.uuid4().hex, criterion_id="tiny", members=[member(a)]
    )
    for role in (Role.READONLY, Role.BACKEND):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await earn.as_role(role).call("GrantPoints", request)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await earn.balance(a) == 0


async def test_another_programs_key_sees_and_touches_nothing(
    earn: Earn, earn_js: Any, channels: Any
) -> None:
    alice = await earn.enrol()
    msg = p.Purchase(
        purchase_id=uuid.uuid4().hex,
        member=member(alice),
        channel="store",
        store="S1",
        amount_yen=1000,
    )
    await earn.call("RecordPurchase", earn_pb2.RecordPurchaseRequest(purchase=msg))
    other = Earn(channels, await new_program(earn_js))
    for method, request in (
        ("RecordPurchase", earn_pb2.RecordPurchaseRequest(purchase=msg)),
        ("ListPurchases", earn_pb2.ListPurchasesRequest(member=member(alice))),
        (
            "GrantPoints",
            earn_pb2.GrantPointsRequest(
                idempotency_key="k", amount=5, reason="x", members=[member(alice)]
            ),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.call(method, request)
        assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await other.call(
            "RecordReturn",
            earn_pb2.RecordReturnRequest(return_id="r1", purchase_id=msg.purchase_id, full=True),
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert await earn.balance(alice) == 10
