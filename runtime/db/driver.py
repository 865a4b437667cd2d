"""Fixed statements sent to psycopg as they are, on the unit of work's connection and transaction.

Hot paths (credits, balance reads, idempotency keys, outbox rows) run fixed SQL. Compiling it
through SQLAlchemy's ORM or Core costs more CPU than PostgreSQL spends on the statement, and even
`exec_driver_sql` roughly doubles a short statement's client CPU (its execution context, result
wrapper and greenlet hop: about 140 µs against psycopg's 65 µs here). These helpers await
psycopg's own cursor on the session's connection instead, so the statement joins the session's
transaction, and turn psycopg's errors into SQLAlchemy's (`DBAPIError` with `.orig`), which is
what the retry on deadlocks, the gRPC error mapping and the consumers' outage checks look at.

Placeholders are psycopg's: `%(name)s`, and `%(name)b` for lists (dumped in binary, several times
faster than array literals). Rows come back as plain tuples.

psycopg prepares a statement on the server once it has run it five times on a connection, and
PostgreSQL then soon settles on a generic plan, made without the parameters' values. That is
what a short statement wants (no planning per call), but a generic plan does not know how many
elements an array parameter holds and guesses a few: a statement whose best plan depends on
that (a join to 5,000 keys) should pass `prepare=False`, to be planned with its values each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# Engines whose statements are spans (telemetry exported, see runtime.service.trace_statements):
# the tracer, and the attributes every statement's span carries.
_TRACED: WeakKeyDictionary[Engine, tuple[Tracer, dict[str, str | int]]] = WeakKeyDictionary()


def trace_statements(engine: Engine, tracer: Tracer) -> None:
    """Make each statement run here a client span of the current trace, with the attributes
    SQLAlchemy's instrumentation gives the statements that go through SQLAlchemy."""
    url = engine.url
    attributes: dict[str, str | int] = {"db.system": "postgresql", "db.name": url.database or ""}
    if url.host:
        attributes["net.peer.name"] = url.host
    if url.port:
        attributes["net.peer.port"] = url.port
    _TRACED[engine] = (tracer, attributes)


async def fetch_all(
    session: AsyncSession, statement: str, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The statement's rows."""
    connection = await session.connection()
    cursor = await _cursor(connection)
    async with cursor:
        await _execute(connection, cursor, statement, params)
        return await cursor.fetchall()


async def execute(
    session: AsyncSession,
    statement: str,
    params: Mapping[str, Any],
    *,
    prepare: bool | None = None,
) -> int:
    """Runs a statement without rows to return; the number of rows it changed. `prepare`:
    psycopg's (None: prepared once it is frequent; False: never, planned with its values)."""
    connection = await session.connection()
    cursor = await _cursor(connection)
    async with cursor:
        await _execute(connection, cursor, statement, params, prepare)
        return cursor.rowcount


async def _cursor(connection: AsyncConnection) -> psycopg.AsyncCursor[tuple[Any, ...]]:
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[tuple[Any, ...]] = raw.driver_connection  # type: ignore[assignment]
    return driver.cursor()


async def _execute(
    connection: AsyncConnection,
    cursor: psycopg.AsyncCursor[tuple[Any, ...]],
    statement: str,
    params: Mapping[str, Any],
    prepare: bool | None = None,
) -> None:
    try:
        traced = _TRACED.get(connection.sync_engine)
        if traced is None:
            await cursor.execute(statement, params, prepare=prepare)
        else:
            tracer, attributes = traced
            with tracer.start_as_current_span(
                f"{statement.split(maxsplit=1)[0]} {attributes['db.name']}",
                kind=SpanKind.CLIENT,
                attributes={**attributes, "db.statement": statement},
            ):
                await cursor.execute(statement, params, prepare=prepare)
    except psycopg.Error as error:
        dialect = connection.dialect
        lost = dialect.is_disconnect(error, None, None)  # type: ignore[arg-type]
        if lost:
            # As SQLAlchemy does for its own statements: this connection is not reused. The
            # pool's other connections are pinged at checkout if they sat idle (engine.py).
            await connection.invalidate(error)
        raise DBAPIError.instance(
            statement,
            dict(params),
            error,
            psycopg.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
