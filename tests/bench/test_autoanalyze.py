"""The bench's stand-in for autovacuum's ANALYZE (bench/autoanalyze.py) analyzes a table once
autovacuum would (50 rows + 10% of it changed since it was last analyzed), and no sooner."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from bench.autoanalyze import analyze_due


def _dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def test_a_table_is_analyzed_once_autovacuum_would_and_not_before(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(_dsn(database_url), autocommit=True) as conn:
        await conn.execute("CREATE TABLE grows (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO grows SELECT generate_series(1, 40)")
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert "public.grows" not in await analyze_due(conn)  # 40 changes: under 50

        await conn.execute("INSERT INTO grows SELECT generate_series(41, 100)")
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert "public.grows" in await analyze_due(conn)  # 100 changes since never analyzed

        rows = await (
            await conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'grows'")
        ).fetchall()
        assert rows == [(100,)]  # the planner now knows its size
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert "public.grows" not in await analyze_due(conn)  # nothing changed since
