"""A real accounts service (in-process, real PostgreSQL and NATS) and programs to call it with."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import nats
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.service import ServiceApp
from services.accounts.app import definition
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tests.support.services import TestProgram, create_program, running_service


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def accounts_app(database_url: str, nats_url: str) -> AsyncIterator[ServiceApp]:
    async with running_service(definition, database_url, nats_url) as app:
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def admin_nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def js(admin_nc: Client) -> JetStreamContext:
    return admin_nc.jetstream()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def channel(accounts_app: ServiceApp) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{accounts_app.port}") as ch:
        yield ch


@pytest_asyncio.fixture(loop_scope="session")
async def program(accounts_app: ServiceApp, js: JetStreamContext) -> TestProgram:
    """A fresh program per test (tests never see each other's members)."""
    return await create_program(js, ["accounts"])


class Accounts:
    """A thin client: calls AccountsService with a program's key for a role."""

    def __init__(self, channel: grpc.aio.Channel, program: TestProgram, role: Role = Role.ADMIN):
        self.channel = channel
        self.stub = accounts_pb2_grpc.AccountsServiceStub(channel)
        self.program = program
        self.role = role

    def as_role(self, role: Role) -> Accounts:
        return Accounts(self.channel, self.program, role)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.program.metadata(self.role))

    async def enrol(self, ref: str | None = None, **fields: Any) -> str:
        reply = await self.call(
            "EnrolMember",
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=str(uuid.uuid4()), external_ref=ref or uuid.uuid4().hex, **fields
            ),
        )
        return str(reply.member.account_id)

    async def credit(self, account_id: str, amount: int, **fields: Any) -> Any:
        fields.setdefault("source", ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN))
        return await self.call(
            "Credit",
            accounts_pb2.CreditRequest(
                idempotency_key=fields.pop("idempotency_key", str(uuid.uuid4())),
                member=members_pb2.MemberSelector(account_id=account_id),
                amount=amount,
                **fields,
            ),
        )

    async def debit(self, account_id: str, amount: int, **fields: Any) -> Any:
        fields.setdefault("source", ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="o1"))
        return await self.call(
            "Debit",
            accounts_pb2.DebitRequest(
                idempotency_key=fields.pop("idempotency_key", str(uuid.uuid4())),
                member=members_pb2.MemberSelector(account_id=account_id),
                amount=amount,
                **fields,
            ),
        )

    async def balance(self, account_id: str) -> ledger_pb2.Balance:
        reply = await self.call(
            "GetBalance",
            accounts_pb2.GetBalanceRequest(
                member=members_pb2.MemberSelector(account_id=account_id)
            ),
        )
        balance: ledger_pb2.Balance = reply.balance
        return balance

    async def verify(self) -> accounts_pb2.VerifyResponse:
        reply: accounts_pb2.VerifyResponse = await self.call("Verify", accounts_pb2.VerifyRequest())
        return reply


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(channel: grpc.aio.Channel, program: TestProgram) -> Accounts:
    return Accounts(channel, program)
