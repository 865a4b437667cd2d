"""The ledger through gRPC against PostgreSQL: balances, history, idempotency, bad input."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

from runtime.auth import Role
from runtime.grpcserver import error_detail_from_metadata
from runtime.service import ServiceApp
from services.accounts.entrypoints.access_policy import POLICY, SERVICE
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.support.services import create_program


def test_every_method_has_an_access_rule() -> None:
    assert POLICY.missing_methods(SERVICE) == []


async def test_credit_debit_balance_history_and_verify(accounts: Accounts) -> None:
    member = await accounts.enrol(display_name="Hanako")
    await accounts.credit(member, 500, reason="welcome")
    reply = await accounts.debit(member, 120, reason="coffee")
    assert reply.balance.available == 380
    assert sum(d.amount for d in reply.result.draws) == 120
    balance = await accounts.balance(member)
    assert (balance.available, balance.held) == (380, 0)

    history = await accounts.call(
        "ListHistory",
        accounts_pb2.ListHistoryRequest(member=members_pb2.MemberSelector(account_id=member)),
    )
    assert [t.balance_change for t in history.transactions] == [-120, 500]
    assert [t.reason for t in history.transactions] == ["coffee", "welcome"]

    verified = await accounts.verify()
    assert verified.consistent, verified.problems
    assert verified.issued == 500
    assert verified.redeemed == 120
    assert verified.member_balances == 380


async def test_replayed_request_returns_first_result_and_reused_key_is_refused(
    accounts: Accounts,
) -> None:
    member = await accounts.enrol()
    first = await accounts.credit(member, 100, idempotency_key="k-1")
    again = await accounts.credit(member, 100, idempotency_key="k-1")
    assert again.result.transaction_id == first.result.transaction_id
    assert (await accounts.balance(member)).available == 100
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.credit(member, 999, idempotency_key="k-1")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await accounts.balance(member)).available == 100


@pytest.mark.parametrize(("amount", "field"), [(0, "amount"), (-5, "amount"), (10**13, "amount")])
async def test_bad_amounts_are_invalid_and_change_nothing(
    accounts: Accounts, amount: int, field: str
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 10)
    for call in (accounts.credit, accounts.debit):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(member, amount)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        detail = error_detail_from_metadata(caught.value.trailing_metadata())
        assert detail is not None
        assert detail.field == field
    assert (await accounts.balance(member)).available == 10
    assert (await accounts.verify()).consistent


async def test_unknown_member_missing_key_and_overdraft_are_clear_errors(
    accounts: Accounts,
) -> None:
    unknown = str(uuid.uuid4())
    for call in (accounts.credit, accounts.debit):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(unknown, 10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        detail = error_detail_from_metadata(caught.value.trailing_metadata())
        assert detail is not None
        # The account's own read is the existence check; the error still names the selector.
        assert (detail.field, detail.reason) == ("member", "MEMBER_NOT_FOUND")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.balance(unknown)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    member = await accounts.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.credit(member, 10, idempotency_key="")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idempotency_key" in (caught.value.details() or "")

    await accounts.credit(member, 10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.debit(member, 11)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None
    assert detail.reason == "INSUFFICIENT_POINTS"
    assert (await accounts.balance(member)).available == 10


async def test_verify_catches_a_tampered_balance(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 70)
    assert (await accounts.verify()).consistent
    assert accounts_app.ctx is not None
    async with accounts_app.ctx.session_factory() as session, session.begin():
        await session.execute(
            text("UPDATE point_accounts SET available = available + 5 WHERE account_id = :a"),
            {"a": member},
        )
    verified = await accounts.verify()
    assert not verified.consistent
    assert any(member in problem and "available 75" in problem for problem in verified.problems)
    assert any("not conserved" in problem for problem in verified.problems)


async def test_other_programs_key_sees_and_changes_nothing(
    accounts: Accounts, channel: grpc.aio.Channel, js: JetStreamContext
) -> None:
    member = await accounts.enrol("shared-ref")
    await accounts.credit(member, 40)
    other = Accounts(channel, await create_program(js, ["accounts"]))
    nowhere = str(uuid.uuid4())  # an id that exists in no program

    async def error_of(call: Callable[[str], Awaitable[object]], account_id: str) -> str:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(account_id)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        return (caught.value.details() or "").split(" [trace_id=")[0].replace(account_id, "<id>")

    calls: list[Callable[[str], Awaitable[object]]] = [
        other.balance,
        lambda a: other.credit(a, 10),
        lambda a: other.debit(a, 10),
    ]
    for call in calls:
        # Program B gets exactly what it gets for a member that exists nowhere.
        assert await error_of(call, member) == await error_of(call, nowhere)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await other.call(
            "GetMember",
            accounts_pb2.GetMemberRequest(
                member=members_pb2.MemberSelector(external_ref="shared-ref")
            ),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # The same external ref is free in the other program: refs are per program.
    assert await other.enrol("shared-ref") != member
    assert (await accounts.balance(member)).available == 40


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        (Role.READONLY, "GetBalance", True),
        (Role.READONLY, "Credit", False),
        (Role.GRANTER, "GetBalance", False),
        (Role.GRANTER, "Credit", False),
        (Role.BACKEND, "Credit", True),
        (Role.BACKEND, "AdjustPoints", False),
    ],
)
async def test_roles(accounts: Accounts, role: Role, method: str, allowed: bool) -> None:
    member = await accounts.enrol()
    selector = members_pb2.MemberSelector(account_id=member)
    requests = {
        "GetBalance": accounts_pb2.GetBalanceRequest(member=selector),
        "Credit": accounts_pb2.CreditRequest(
            idempotency_key=str(uuid.uuid4()),
            member=selector,
            amount=5,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
        ),
        "AdjustPoints": accounts_pb2.AdjustPointsRequest(
            idempotency_key=str(uuid.uuid4()), member=selector, delta=5, reason="fix"
        ),
    }
    caller = accounts.as_role(role)
    if allowed:
        await caller.call(method, requests[method])
    else:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await caller.call(method, requests[method])
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await accounts.balance(member)).available == (
        5 if allowed and method == "Credit" else 0
    )


async def test_closed_program_keeps_its_data_and_refuses_new_activity(
    accounts: Accounts, js: JetStreamContext
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 25)
    program = accounts.program
    await create_program(  # the same program, republished closed (what the operator does)
        js, ["accounts"], program_id=program.program_id, keys=program.keys, closed=True
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.credit(member, 5)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None
    assert detail.reason == "PROGRAM_CLOSED"
    assert (await accounts.balance(member)).available == 25  # reads still work
    assert (await accounts.verify()).consistent
