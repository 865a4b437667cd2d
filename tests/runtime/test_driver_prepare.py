"""`runtime.db.driver.execute(..., prepare=False)` reaches psycopg: a statement so marked is
never prepared on the server (so PostgreSQL plans it with its values every time), while an
unmarked one is prepared once it is frequent (psycopg's threshold is five runs)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.driver import execute, fetch_all

_PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE statement = %(statement)s"


async def _prepared(session: AsyncSession, statement: str) -> int:
    rows = await fetch_all(session, _PREPARED, {"statement": statement})
    return int(rows[0][0])


async def test_a_statement_run_with_prepare_false_is_never_prepared(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # Different texts, so neither run counts towards the other's threshold.
    planned_each_time = "SELECT 1 WHERE 2 = ANY(CAST(%(keys)b AS bigint[]))"
    frequent = "SELECT 1 WHERE 3 = ANY(CAST(%(keys)b AS bigint[]))"
    async with session_factory() as session, session.begin():
        for _ in range(8):
            await execute(session, planned_each_time, {"keys": [1, 2, 3]}, prepare=False)
            await execute(session, frequent, {"keys": [1, 2, 3]})

        assert await _prepared(session, planned_each_time.replace("%(keys)b", "$1")) == 0
        assert await _prepared(session, frequent.replace("%(keys)b", "$1")) == 1
