"""accounts, catalog and redeem running in-process on the session's PostgreSQL and NATS, a
shared sandbox payment gateway and fault plan, and a `Shop` per test (its own program)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc.aio
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.messaging.streams import ensure_events_stream
from runtime.service import ServiceApp
from services.accounts.app import definition as accounts_definition
from services.catalog.app import definition as catalog_definition
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.app import make_definition
from services.redeem.entrypoints.wiring import RedeemOptions
from services.redeem.service_layer.fault_plan import FaultPlan
from services.redeem.service_layer.saga_runner import SagaOptions
from tests.redeem.shop import Shop, Stubs
from tests.support.services import running_service

FAST_SAGA = SagaOptions(inline_attempts=2, retry_delay=0.05)


@pytest.fixture(scope="session")
def gateway() -> SandboxGateway:
    return SandboxGateway()


@pytest.fixture(scope="session")
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture(autouse=True)
def clear_faults(faults: FaultPlan) -> Iterator[None]:
    yield
    faults.clear()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def accounts_app(database_url: str, nats_url: str) -> AsyncIterator[ServiceApp]:
    async with running_service(accounts_definition, database_url, nats_url) as app:
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def catalog_app(database_url: str, nats_url: str) -> AsyncIterator[ServiceApp]:
    async with running_service(catalog_definition, database_url, nats_url) as app:
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redeem_app(
    database_url: str,
    nats_url: str,
    gateway: SandboxGateway,
    faults: FaultPlan,
    accounts_app: ServiceApp,
    catalog_app: ServiceApp,
) -> AsyncIterator[ServiceApp]:
    options = RedeemOptions(gateway=gateway, faults=faults, saga=FAST_SAGA, recovery_interval=0.5)
    async with running_service(
        make_definition(options), database_url, nats_url, db_pool_size=20
    ) as app:
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redeem_nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redeem_js(redeem_nc: Client) -> JetStreamContext:
    context = redeem_nc.jetstream()
    await ensure_events_stream(context)
    return context


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stubs(
    accounts_app: ServiceApp, catalog_app: ServiceApp, redeem_app: ServiceApp
) -> AsyncIterator[Stubs]:
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{accounts_app.port}") as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{catalog_app.port}") as c,
        grpc.aio.insecure_channel(f"127.0.0.1:{redeem_app.port}") as r,
    ):
        yield Stubs.over(a, c, r)


@pytest_asyncio.fixture(loop_scope="session")
async def shop(stubs: Stubs, redeem_js: JetStreamContext, gateway: SandboxGateway) -> Shop:
    """A fresh program (self-pay on, no shared catalog, islands not deliverable)."""
    return await Shop.open(stubs, redeem_js, gateway)
