"""A unit of work that only reads ends without costing its connection the statements psycopg
prepared on it (runtime/db/unit_of_work.py: a ROLLBACK would deallocate them all), and one
that wrote without committing (a dry run) is still rolled back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest_asyncio
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.driver import fetch_all
from runtime.db.engine import make_async_engine, make_session_factory
from runtime.db.plumbing import OutboxEvent
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction

_STATEMENT = "SELECT count(*) FROM outbox_events WHERE program_id = %(p)s"


@pytest_asyncio.fixture(loop_scope="session")
async def one_connection(
    database_url: str, plumbing_schema: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that all use the same single connection (pool of one)."""
    engine = make_async_engine(database_url, schema=plumbing_schema, pool_size=1)
    yield make_session_factory(engine)
    await engine.dispose()


async def _prepared(uow: UnitOfWork) -> int:
    rows = await fetch_all(
        uow.session,
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = %(s)s",
        {"s": _STATEMENT.replace("%(p)s", "$1")},
    )
    return int(rows[0][0])


async def test_a_read_only_unit_of_work_keeps_the_connections_prepared_statements(
    one_connection: async_sessionmaker[AsyncSession], program_id: str
) -> None:
    def uow() -> UnitOfWork:
        return UnitOfWork(one_connection, "rt")

    async def count(u: UnitOfWork) -> int:
        return int((await fetch_all(u.session, _STATEMENT, {"p": program_id}))[0][0])

    for _ in range(6):  # psycopg prepares a statement on its fifth run
        assert await run_in_transaction(uow, count) == 0

    async with uow() as reader:  # reads, never commits
        assert await count(reader) == 0
    async with uow() as after:
        assert await _prepared(after) == 1


async def test_a_unit_of_work_that_ends_without_committing_keeps_none_of_its_orm_changes(
    one_connection: async_sessionmaker[AsyncSession], program_id: str
) -> None:
    async with UnitOfWork(one_connection, "rt") as uow:
        await uow.session.execute(text("SELECT 1"))  # a transaction is open
        uow.session.add(
            OutboxEvent(
                event_id=f"{program_id}-x", program_id=program_id, subject="s", envelope=b""
            )
        )

    async with UnitOfWork(one_connection, "rt") as uow:
        found = await uow.session.scalars(
            select(OutboxEvent.event_id).where(OutboxEvent.program_id == program_id)
        )
        assert found.all() == []


async def test_a_unit_of_work_that_wrote_and_did_not_commit_is_rolled_back(
    one_connection: async_sessionmaker[AsyncSession], program_id: str
) -> None:
    async with UnitOfWork(one_connection, "rt") as uow:  # a dry run: writes, never commits
        await uow.emit(program_id, "thing_happened", StringValue(value="dry"))

    async with UnitOfWork(one_connection, "rt") as uow:
        assert await fetch_all(uow.session, _STATEMENT, {"p": program_id}) == [(0,)]


async def test_a_unit_of_work_whose_transaction_failed_still_closes_cleanly(
    one_connection: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(one_connection, "rt") as uow:
        with contextlib.suppress(DBAPIError):  # the work caught the error and carried on
            await fetch_all(uow.session, "SELECT 1 / 0", {})

    async with UnitOfWork(one_connection, "rt") as uow:  # the connection is usable again
        assert await fetch_all(uow.session, "SELECT 1", {}) == [(1,)]
