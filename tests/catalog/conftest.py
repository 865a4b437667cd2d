"""The catalog service running in-process against the session's PostgreSQL and NATS, a client
stub, a command client for redeem's side, and a fresh program per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio
import nats
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.messaging.commands import CommandClient
from runtime.messaging.streams import ensure_events_stream
from runtime.service import ServiceApp
from services.catalog.app import definition
from tamaru.catalog.v1 import catalog_pb2_grpc
from tests.support.services import TestProgram, create_program, running_service


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def catalog(database_url: str, nats_url: str) -> AsyncIterator[ServiceApp]:
    async with running_service(definition, database_url, nats_url, db_pool_size=15) as app:
        yield app


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def js(nc: Client) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_events_stream(context)
    return context


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stub(catalog: ServiceApp) -> AsyncIterator[catalog_pb2_grpc.CatalogServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{catalog.port}") as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def commands(nc: Client, catalog: ServiceApp) -> CommandClient:
    return CommandClient(nc, default_timeout=10)


async def new_program(js: JetStreamContext, **spec: Any) -> TestProgram:
    """A program of its own; it ignores the shared catalog unless the test asks for it, so
    shared items other tests import never show up in its listings."""
    spec.setdefault("catalog", {"useSharedCatalog": False})
    return await create_program(js, ["catalog"], **spec)


@pytest_asyncio.fixture(loop_scope="session")
async def program(js: JetStreamContext, catalog: ServiceApp) -> TestProgram:
    return await new_program(js)
