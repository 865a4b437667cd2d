"""Real accounts and earn services (in-process, real PostgreSQL and NATS) and clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import nats
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

import services.accounts.app
import services.earn.app
from runtime.auth import Role
from runtime.grpcserver.error_mapping import error_detail_from_metadata
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, members_pb2
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2_grpc
from tests.support.services import TestProgram, create_program, running_service


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def earn_apps(
    database_url: str, nats_url: str
) -> AsyncIterator[tuple[ServiceApp, ServiceApp]]:
    async with (
        running_service(services.accounts.app.definition, database_url, nats_url) as accounts,
        running_service(services.earn.app.definition, database_url, nats_url) as earn,
    ):
        yield accounts, earn


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def earn_nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def earn_js(earn_nc: Client) -> JetStreamContext:
    return earn_nc.jetstream()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def channels(
    earn_apps: tuple[ServiceApp, ServiceApp],
) -> AsyncIterator[tuple[grpc.aio.Channel, grpc.aio.Channel]]:
    accounts, earn = earn_apps
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{accounts.port}") as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{earn.port}") as e,
    ):
        yield a, e


class Earn:
    """Calls EarnService (and AccountsService for members and balances) as one program."""

    def __init__(
        self,
        channels: tuple[grpc.aio.Channel, grpc.aio.Channel],
        program: TestProgram,
        role: Role = Role.ADMIN,
    ) -> None:
        self.channels = channels
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(channels[0])
        self.stub = earn_pb2_grpc.EarnServiceStub(channels[1])
        self.program = program
        self.role = role

    def as_role(self, role: Role) -> Earn:
        return Earn(self.channels, self.program, role)

    def as_program(self, program: TestProgram) -> Earn:
        return Earn(self.channels, program, self.role)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.program.metadata(self.role))

    async def stream(self, method: str, requests: list[Any]) -> Any:
        return await getattr(self.stub, method)(
            iter(requests), metadata=self.program.metadata(self.role)
        )

    async def enrol(self, ref: str | None = None) -> str:
        reply = await self.accounts.EnrolMember(
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=str(uuid.uuid4()), external_ref=ref or uuid.uuid4().hex
            ),
            metadata=self.program.metadata(Role.ADMIN),
        )
        return str(reply.member.account_id)

    async def balance(self, account_id: str) -> int:
        reply = await self.accounts.GetBalance(
            accounts_pb2.GetBalanceRequest(member=member(account_id)),
            metadata=self.program.metadata(Role.ADMIN),
        )
        return int(reply.balance.available)

    async def admin(self, method: str, request: Any) -> Any:
        return await getattr(self.accounts, method)(
            request, metadata=self.program.metadata(Role.ADMIN)
        )


def member(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


async def new_program(js: JetStreamContext, **spec: Any) -> TestProgram:
    return await create_program(js, ["accounts", "earn"], **spec)


@pytest_asyncio.fixture(loop_scope="session")
async def program(earn_apps: Any, earn_js: JetStreamContext) -> TestProgram:
    return await new_program(
        earn_js,
        grantCriteria=[
            {"id": "annual_mvp", "name": "Annual MVP", "points": 30000},
            {"id": "service_1y", "name": "1 year", "points": 5000, "sponsorFunded": False},
            {"id": "tiny", "name": "Tiny", "points": 1},
        ],
        allowFreeAmountGrants=True,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def earn(channels: tuple[grpc.aio.Channel, grpc.aio.Channel], program: TestProgram) -> Earn:
    return Earn(channels, program)


def detail_of(error: grpc.aio.AioRpcError) -> common_pb2.ErrorDetail:
    """The ErrorDetail the service attached (reason, field)."""
    detail = error_detail_from_metadata(error.trailing_metadata())
    assert detail is not None, "no tamaru-error-bin in the trailing metadata"
    return detail
