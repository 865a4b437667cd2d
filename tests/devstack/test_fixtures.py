"""The shared fixtures give each session a real, fresh database and a restartable NATS."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import NoServersError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.devstack import NatsServer
from tests.infra.fixtures import CreateDatabase


async def test_database_is_fresh_empty_and_connectable(create_database: CreateDatabase) -> None:
    # A database of its own: the session's shared `database_url` fills up as other tests run.
    engine = create_async_engine(await create_database("tamaru_test"))
    try:
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_database()"))
            user_tables = await conn.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
    finally:
        await engine.dispose()
    assert name is not None
    assert name.startswith("tamaru_test_")
    assert user_tables == 0


async def test_each_database_from_the_factory_is_separate(
    create_database: CreateDatabase, database_url: str
) -> None:
    other = await create_database("tamaru_test_extra")
    assert other != database_url
    engine = create_async_engine(other)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE only_here (id int)"))
    finally:
        await engine.dispose()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT to_regclass('only_here') IS NOT NULL"))
    finally:
        await engine.dispose()
    assert found is False


async def test_nats_server_is_dedicated_and_has_jetstream(
    nats_server: NatsServer, nats_url: str
) -> None:
    assert nats_url == nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert nats_server.port != 4222
    assert nats_server.running
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().account_info()
    finally:
        await nc.close()
    assert info.limits is not None


async def _connect_once(url: str) -> NatsClient:
    # (max_reconnect_attempts=0 would make nats-py retry the first connect forever.)
    return await nats.connect(
        url,
        allow_reconnect=False,
        connect_timeout=1,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.1,
    )


async def test_restart_keeps_port_and_jetstream_state(nats_server: NatsServer) -> None:
    url_before = nats_server.url
    nc = await _connect_once(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(name="FIXTURE_RESTART", subjects=["fixture.restart.>"])
    await js.publish("fixture.restart.one", b"kept")
    await nc.close()

    await nats_server.stop()
    try:
        assert not nats_server.running
        with pytest.raises((NoServersError, OSError, TimeoutError)):
            await _connect_once(url_before)
    finally:
        await nats_server.start()  # later tests in the session need it whatever happened here

    assert nats_server.running
    assert nats_server.url == url_before
    nc = await _connect_once(nats_server.url)
    try:
        info = await nc.jetstream().stream_info("FIXTURE_RESTART")
        message = await nc.jetstream().get_last_msg("FIXTURE_RESTART", "fixture.restart.one")
        await nc.jetstream().delete_stream("FIXTURE_RESTART")
    finally:
        await nc.close()
    assert info.state.messages == 1
    assert message.data == b"kept"
