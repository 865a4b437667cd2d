"""Async engines bound to one service's schema."""

from __future__ import annotations

import re

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _connect_args(schema: str, application_name: str) -> dict[str, object]:
    if not _SCHEMA.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return {
        # Unqualified table names resolve to the service's own schema.
        "options": f"-c search_path={schema},public",
        "application_name": application_name,
    }


def make_async_engine(
    url: str, *, schema: str, pool_size: int = 10, application_name: str = "tamaru"
) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=_connect_args(schema, application_name),
    )


def make_sync_engine(url: str, *, schema: str, application_name: str = "tamaru") -> Engine:
    """A synchronous engine, for Alembic and command-line tools."""
    return create_engine(url, connect_args=_connect_args(schema, application_name))


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
