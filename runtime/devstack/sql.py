"""Server-level SQL: is a server reachable, create and drop databases."""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) -> `postgresql://...` (libpq, psycopg)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def shown(url: str) -> str:
    """The URL as printed: password masked."""
    return make_url(url).render_as_string(hide_password=True)


async def postgres_reachable(url: str, *, timeout: int = 2) -> bool:
    """True if we can log in to the server at `url` (its maintenance database `postgres`, so a
    URL naming a database that does not exist yet still counts as a reachable server)."""
    for candidate in (with_database(url, "postgres"), url):
        try:
            conn = await psycopg.AsyncConnection.connect(
                libpq_url(candidate), connect_timeout=timeout
            )
        except psycopg.Error:
            continue
        await conn.close()
        return True
    return False


async def _admin(server_url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return await psycopg.AsyncConnection.connect(
        libpq_url(with_database(server_url, "postgres")), autocommit=True, connect_timeout=5
    )


async def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server unless it exists; return its SQLAlchemy URL."""
    async with await _admin(server_url) as conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone() is None:
            # Another process may create it between our check and here: that is what we wanted.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, first ending the sessions a test may have leaked into it."""
    async with await _admin(server_url) as conn:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
