"""End to end: a ProgramConfig applied through the operator makes a program a client can use
over gRPC with the key from the operator's Secret; the deleted resource closes it, data kept."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from runtime.service import ServiceApp
from services.accounts.app import definition as accounts_definition
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tests.infra.fixtures import CreateDatabase
from tests.operator.cluster_double import KubeClient
from tests.operator.conftest import OperatorRun, ServiceSide
from tests.operator.expectations import SPEC, eventually, wait_for_status
from tests.support.services import running_service


@pytest_asyncio.fixture(loop_scope="session")
async def accounts_service(
    create_database: CreateDatabase, nats_url: str
) -> AsyncIterator[ServiceApp]:
    """The real accounts service, beside the operator test's config watchers."""
    database_url = await create_database("tamaru_op_accounts")
    async with running_service(accounts_definition, database_url, nats_url) as app:
        yield app


async def test_a_created_program_is_usable_over_grpc_with_the_secrets_key(
    operator: OperatorRun,
    kube: KubeClient,
    service_side: ServiceSide,
    accounts_service: ServiceApp,
    program_name: str,
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
    secret = await kube.secret(f"{program_name}-api-keys")
    assert secret is not None
    admin_key = base64.b64decode(secret["data"]["admin"]).decode()

    async with grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as channel:
        stub = accounts_pb2_grpc.AccountsServiceStub(channel)
        metadata = [("authorization", f"Bearer {admin_key}")]
        enrolled = await stub.EnrolMember(
            accounts_pb2.EnrolMemberRequest(idempotency_key=uuid.uuid4().hex, external_ref="e-1"),
            metadata=metadata,
        )
        member = members_pb2.MemberSelector(account_id=enrolled.member.account_id)
        credited = await stub.Credit(
            accounts_pb2.CreditRequest(
                idempotency_key=uuid.uuid4().hex,
                member=member,
                amount=100,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_CRITERION, id="welcome"),
            ),
            metadata=metadata,
        )
        assert credited.balance.available == 100

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetBalance(
                accounts_pb2.GetBalanceRequest(member=member),
                metadata=[("authorization", "Bearer tmr_admin_not-a-real-key")],
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # Delete: the finalizer closes the program; the service refuses new activity and
        # keeps every row.
        await kube.delete_program(program_name)

        assert accounts_service.ctx is not None
        programs = accounts_service.ctx.programs

        async def closed() -> bool:
            return programs.get(program_name).closed

        await eventually(closed, what="the accounts service applying the closed program")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Credit(
                accounts_pb2.CreditRequest(
                    idempotency_key=uuid.uuid4().hex,
                    member=member,
                    amount=1,
                    source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
                ),
                metadata=metadata,
            )
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        balance = await stub.GetBalance(
            accounts_pb2.GetBalanceRequest(member=member), metadata=metadata
        )
        assert balance.balance.available == 100
