"""Autovacuum's ANALYZE, for a server that runs without autovacuum (this machine's does).

PostgreSQL replans a prepared statement when its tables are analyzed, and autovacuum analyzes
a table once enough of it changed. Without autovacuum a table that starts empty (an outbox,
the idempotency keys) is never analyzed, so a generic plan made while it was empty, a
sequential scan, stays cached while the table grows: the outbox relay's "mark sent" came to
read the whole outbox for every 500 events. The bench measures the services as they run in
production, so while autovacuum is off it does autovacuum's analyzing itself, with
autovacuum's default rule; on a server with autovacuum on it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg

# autovacuum_analyze_threshold + autovacuum_analyze_scale_factor * rows (their defaults).
_DUE = (
    "SELECT format('%I.%I', s.schemaname, s.relname) FROM pg_stat_user_tables s "
    "JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)"
)


async def autovacuum_is_on(dsn: str) -> bool:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (await conn.execute("SHOW autovacuum")).fetchone()
        return row is not None and row[0] == "on"


async def analyze_due(conn: psycopg.AsyncConnection[tuple[str]]) -> list[str]:
    """ANALYZE each table autovacuum would analyze now; returns their names."""
    due = [row[0] for row in await (await conn.execute(_DUE)).fetchall()]
    for table in due:
        await conn.execute(f"ANALYZE {table}")
    return due


async def analyze_while_running(dsn: str, interval: float = 2.0) -> None:
    """Every `interval` seconds until cancelled. Autovacuum visits a database about once a
    minute; the bench's phases last seconds on tables that start empty, and what they should
    show is a service that has run a while, whose tables autovacuum has analyzed as they grew."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while True:
            with contextlib.suppress(psycopg.errors.Error):  # a table dropped meanwhile
                await analyze_due(conn)
            await asyncio.sleep(interval)
