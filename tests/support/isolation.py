"""Fixtures for test packages that need a world of their own: a fresh database and a NATS
server nobody else publishes to. Import them into a package's conftest.py.

Why: a service whose consumer reads every event from the start of the stream (billing) would
otherwise first work through the events of every program the rest of the session created,
programs it was never configured for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from runtime.devstack import NatsServer
from tests.infra.fixtures import CreateDatabase, scratch_nats


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_server() -> AsyncIterator[NatsServer]:
    async with scratch_nats("tamaru-test-nats-own-") as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(create_database: CreateDatabase) -> str:
    return await create_database("tamaru_test_own")
