"""Fixtures for runtime tests: plumbing tables in a scratch schema, a NATS client, a unique
program id per test (so tests never see each other's events or rows)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.base import Base
from runtime.db.engine import make_async_engine, make_session_factory, make_sync_engine
from runtime.db.plumbing import PLUMBING_TABLES
from runtime.db.unit_of_work import UnitOfWork
from runtime.messaging.streams import ensure_events_stream

# Own NATS and database: these tests stop and restart the NATS server, which must not disturb
# the service instances other packages keep running for the session.
from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)

SCHEMA = "runtime_test"


@pytest.fixture(scope="session")
def plumbing_schema(database_url: str) -> str:
    engine = make_sync_engine(database_url, schema=SCHEMA)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        conn.execute(text("CREATE TABLE IF NOT EXISTS effects (event_id text, note text)"))
    Base.metadata.create_all(engine, tables=PLUMBING_TABLES)
    engine.dispose()
    return SCHEMA


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_factory(
    database_url: str, plumbing_schema: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_async_engine(database_url, schema=plumbing_schema, pool_size=20)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def uow_factory(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(session_factory, "rt")


@pytest_asyncio.fixture(loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def js(nc: Client) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_events_stream(context)
    return context


@pytest.fixture
def program_id() -> str:
    return f"p{secrets.token_hex(5)}"
