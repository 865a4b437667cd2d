"""Statements sent to psycopg as they are, on the unit of work's connection and transaction.

The hot paths (credits, balance reads, batches, sweeps) run fixed statements; going through
SQLAlchemy's ORM or Core compilation costs more CPU here than the statement itself takes in
PostgreSQL. `exec_driver_sql` skips that: `%(name)s` placeholders, and `%(name)b` for lists
(psycopg dumps them in binary several times faster than as array literals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_all(
    session: AsyncSession, statement: str, params: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    connection = await session.connection()
    return (await connection.exec_driver_sql(statement, dict(params))).all()


async def execute(session: AsyncSession, statement: str, params: Mapping[str, Any]) -> None:
    connection = await session.connection()
    await connection.exec_driver_sql(statement, dict(params))
