"""Async engines bound to one service's schema."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# A pooled connection idle longer than this is pinged before use. SQLAlchemy's pool_pre_ping
# pings on every checkout: one more round trip per transaction (about a tenth of a credit's).
# Under load connections come back within milliseconds, and one that broke that recently
# (the database restarted mid-request) fails its request whether pinged or not; the error
# invalidates the pool and the client's retry (same idempotency key) gets a fresh connection.
PING_AFTER_IDLE_SECONDS = 1.0


def _connect_args(schema: str, application_name: str) -> dict[str, object]:
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return {
        # Unqualified table names resolve to the service's own schema.
        "options": f"-c search_path={schema},public",
        "application_name": application_name,
    }


def make_async_engine(
    url: str,
    *,
    schema: str,
    pool_size: int = 10,
    application_name: str = "tamaru",
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=_connect_args(schema, application_name),
    )
    ping_after_idle(engine.sync_engine, ping_after_idle_seconds)
    return engine


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle: a failed ping
    invalidates every pooled connection (the server restarted or the network dropped them)
    and the pool connects afresh, so the request goes ahead instead of failing."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh, or back from its last use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError(f"ping after {idle_seconds}s idle failed") from error


def make_sync_engine(url: str, *, schema: str, application_name: str = "tamaru") -> Engine:
    """A synchronous engine, for Alembic and command-line tools."""
    return create_engine(url, connect_args=_connect_args(schema, application_name))


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
