"""The pool pings a connection only after it sat idle, and a failed ping reconnects instead of
failing the request (runtime/db/engine.py). The backend is killed with pg_terminate_backend,
as a database restart or a dropped link would."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime.db.engine import make_async_engine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.1)  # the backend exits


async def test_an_idle_connection_killed_on_the_server_is_replaced_before_use(
    database_url: str,
) -> None:
    engine = make_async_engine(
        database_url, schema="public", pool_size=1, ping_after_idle_seconds=0.05
    )
    killer = make_async_engine(database_url, schema="public", pool_size=1)
    try:
        first = await _backend_pid(engine)
        await _terminate(killer, first)

        second = await _backend_pid(engine)  # pinged, found dead, reconnected: no error

        assert second != first
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_a_connection_back_a_moment_ago_is_used_without_a_ping(database_url: str) -> None:
    """Shows what the idle threshold trades away: within it nothing is checked, so the
    request on a connection killed in that moment fails (and is retried by its client), and
    the failure invalidates the pool so the next request connects afresh."""
    engine = make_async_engine(
        database_url, schema="public", pool_size=1, ping_after_idle_seconds=60
    )
    killer = make_async_engine(database_url, schema="public", pool_size=1)
    try:
        first = await _backend_pid(engine)
        await _terminate(killer, first)

        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(engine)
        assert failed.value.connection_invalidated

        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()
        await killer.dispose()
