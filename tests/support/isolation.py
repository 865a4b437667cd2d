"""Fixtures for test packages that need a world of their own: a fresh database and a NATS
server nobody else publishes to. Import them into a package's conftest.py.

Why: a service whose consumer reads every event from the start of the stream (billing) would
otherwise first work through the events of every program the rest of the session created,
programs it was never configured for.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from runtime.devstack import NatsServer
from tests.infra.fixtures import CreateDatabase


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_server() -> AsyncIterator[NatsServer]:
    scratch = Path(tempfile.mkdtemp(prefix="tamaru-test-nats-own-"))
    server = NatsServer(scratch / "jetstream")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(create_database: CreateDatabase) -> str:
    return await create_database("tamaru_test_own")
