"""The real accounts and billing services side by side (same PostgreSQL and NATS), a fresh
program for both per test, clients for each, and helpers to wait for billing to catch up."""

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
import services.billing.app
from runtime.auth import Role
from runtime.messaging.streams import ensure_events_stream
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tamaru.billing.v1 import billing_pb2, billing_pb2_grpc
from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)
from tests.support.services import TestProgram, create_program, running_service, test_settings


class BillingProcess:
    """The billing service, which a test may stop and start again (a restart mid-stream)."""

    def __init__(self, database_url: str, nats_url: str) -> None:
        self._settings = test_settings(database_url, nats_url)
        self.app: ServiceApp | None = None

    async def start(self) -> None:
        self.app = ServiceApp(services.billing.app.definition, self._settings)
        await self.app.start()

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    @property
    def port(self) -> int:
        assert self.app is not None, "billing is stopped"
        return self.app.port


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def accounts_service(database_url: str, nats_url: str) -> AsyncIterator[ServiceApp]:
    async with running_service(services.accounts.app.definition, database_url, nats_url) as app:
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def billing_process(database_url: str, nats_url: str) -> AsyncIterator[BillingProcess]:
    process = BillingProcess(database_url, nats_url)
    await process.start()
    yield process
    await process.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def js(nc: Client) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_events_stream(context)
    return context


@pytest_asyncio.fixture(loop_scope="session")
async def program(
    js: JetStreamContext, accounts_service: ServiceApp, billing_process: BillingProcess
) -> TestProgram:
    return await create_program(js, ["accounts", "billing"])


class Accounts:
    """Drives accounts through its gRPC API with a program's admin key."""

    def __init__(self, channel: grpc.aio.Channel, program: TestProgram) -> None:
        self.stub = accounts_pb2_grpc.AccountsServiceStub(channel)
        self.program = program

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.program.metadata())

    async def enrol(self, ref: str | None = None) -> str:
        reply = await self.call(
            "EnrolMember",
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=uuid.uuid4().hex, external_ref=ref or uuid.uuid4().hex[:12]
            ),
        )
        return str(reply.member.account_id)

    async def credit(
        self,
        account_id: str,
        amount: int,
        *,
        sponsor_funded: bool = True,
        source: ledger_pb2.Source | None = None,
    ) -> str:
        reply = await self.call(
            "Credit",
            accounts_pb2.CreditRequest(
                idempotency_key=uuid.uuid4().hex,
                member=members_pb2.MemberSelector(account_id=account_id),
                amount=amount,
                source=source or ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
                sponsor_funded=sponsor_funded,
            ),
        )
        return str(reply.result.transaction_id)

    async def debit(self, account_id: str, amount: int) -> None:
        await self.call(
            "Debit",
            accounts_pb2.DebitRequest(
                idempotency_key=uuid.uuid4().hex,
                member=members_pb2.MemberSelector(account_id=account_id),
                amount=amount,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="o-1"),
            ),
        )

    async def thank(self, sender: str, receiver: str, amount: int) -> None:
        await self.call(
            "Transfer",
            accounts_pb2.TransferRequest(
                idempotency_key=uuid.uuid4().hex,
                from_member=members_pb2.MemberSelector(account_id=sender),
                to_member=members_pb2.MemberSelector(account_id=receiver),
                amount=amount,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_THANKS, id=uuid.uuid4().hex),
                reason="thanks",
            ),
        )

    async def reverse(self, transaction_id: str, amount: int = 0) -> Any:
        return await self.call(
            "ReverseTransaction",
            accounts_pb2.ReverseTransactionRequest(
                idempotency_key=uuid.uuid4().hex,
                transaction_id=transaction_id,
                amount=amount,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="return-1"),
                reason="returned",
            ),
        )


class Billing:
    """Calls BillingService with a program's key for a role (reconnects after a restart)."""

    def __init__(self, process: BillingProcess, program: TestProgram, role: Role = Role.ADMIN):
        self.process = process
        self.program = program
        self.role = role
        self._channels: dict[int, grpc.aio.Channel] = {}

    def as_role(self, role: Role) -> Billing:
        other = Billing(self.process, self.program, role)
        other._channels = self._channels
        return other

    def stub(self) -> billing_pb2_grpc.BillingServiceStub:
        port = self.process.port
        if port not in self._channels:
            self._channels[port] = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        return billing_pb2_grpc.BillingServiceStub(self._channels[port])

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub(), method)(
            request, metadata=self.program.metadata(self.role)
        )

    async def invoice(self, period: str) -> Any:
        reply = await self.call("GetInvoice", billing_pb2.GetInvoiceRequest(period=period))
        return reply.invoice

    async def report(self, period: str) -> Any:
        reply = await self.call("GetUsageReport", billing_pb2.GetUsageReportRequest(period=period))
        return reply.report

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(accounts_service: ServiceApp, program: TestProgram) -> AsyncIterator[Accounts]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as channel:
        yield Accounts(channel, program)


@pytest_asyncio.fixture(loop_scope="session")
async def billing(billing_process: BillingProcess, program: TestProgram) -> AsyncIterator[Billing]:
    client = Billing(billing_process, program)
    yield client
    await client.close()
