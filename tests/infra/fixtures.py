"""Session fixtures giving tests a real PostgreSQL database and a real NATS server.

- `postgres_server_url`: a reachable server (`TAMARU_TEST_DATABASE_URL`'s, else 127.0.0.1:5432,
  else an embedded one started for the session).
- `database_url`: a fresh, empty database for this session, dropped at the end.
- `create_database`: makes more fresh databases (dropped at the end) for tests needing isolation.
- `nats_server` / `nats_url`: a dedicated `nats-server -js` process for this session (never the
  machine's 4222), which tests may stop and start again on the same port and store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from runtime.devstack import (
    NatsServer,
    drop_database,
    ensure_database,
    find_or_start_postgres,
    postgres_reachable,
    stop_postgres,
    with_database,
)
from runtime.devstack.postgres import DEFAULT_URL as LOCAL_POSTGRES_URL

CreateDatabase = Callable[[str], Awaitable[str]]


def _scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    # Embedded PostgreSQL runs as an unprivileged user when we are root; it must enter this dir.
    path.chmod(0o755)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_server_url() -> AsyncIterator[str]:
    configured = os.environ.get("TAMARU_TEST_DATABASE_URL")
    if configured:
        url = with_database(configured, "postgres")
        if not await postgres_reachable(url):
            pytest.fail(f"TAMARU_TEST_DATABASE_URL is set but {url} does not answer")
        yield url
        return
    if await postgres_reachable(LOCAL_POSTGRES_URL):
        yield LOCAL_POSTGRES_URL
        return
    scratch = _scratch_dir("tamaru-test-pg-")
    try:
        endpoint = await find_or_start_postgres(scratch / "postgres", use_existing=False)
        yield endpoint.url
    finally:
        await stop_postgres(scratch / "postgres")
        shutil.rmtree(scratch, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def create_database(postgres_server_url: str) -> AsyncIterator[CreateDatabase]:
    created: list[str] = []

    async def create(prefix: str = "tamaru_test") -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        url = await ensure_database(postgres_server_url, name)
        created.append(name)
        return url

    yield create
    for name in reversed(created):
        await drop_database(postgres_server_url, name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(create_database: CreateDatabase) -> str:
    return await create_database("tamaru_test")


@contextlib.asynccontextmanager
async def scratch_nats(prefix: str) -> AsyncIterator[NatsServer]:
    """A `nats-server -js` of its own, its store in a temporary folder removed afterwards."""
    scratch = _scratch_dir(prefix)
    server = NatsServer(scratch / "jetstream")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_server() -> AsyncIterator[NatsServer]:
    async with scratch_nats("tamaru-test-nats-") as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url
