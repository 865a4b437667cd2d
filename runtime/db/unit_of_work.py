"""The unit of work: one database transaction, and the events it announces (outbox).

Handlers in a service layer take a `UnitOfWork`, change state through `uow.session`, announce
what happened with `uow.emit(...)` and call `await uow.commit()`. The event rows commit in the
same transaction as the change, so an event is published if and only if the change happened.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import propagate
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db import driver
from runtime.db.plumbing import OutboxEvent
from runtime.errors import Aborted
from runtime.ids import uuid7
from tamaru.common.v1 import common_pb2

T = TypeVar("T")

# PostgreSQL errors that mean "another transaction got in the way; run it again".
RETRYABLE_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
    }
)


# One statement for any number of events, the ids and envelopes as two arrays (`%(...)b`:
# psycopg dumps lists in binary several times faster than as array literals). It goes to
# psycopg as it is: no per-row parameter processing, whatever the batch size.
_INSERT_OUTBOX = (
    f"INSERT INTO {OutboxEvent.__tablename__} "
    "(event_id, program_id, subject, envelope, headers, attempts) "
    "SELECT u.event_id, %(program_id)s, %(subject)s, u.envelope, CAST(%(headers)s AS jsonb), 0 "
    "FROM unnest(CAST(%(ids)b AS text[]), CAST(%(envelopes)b AS bytea[])) AS u(event_id, envelope)"
)


def event_subject(program_id: str, service: str, event_type: str) -> str:
    return f"tamaru.evt.{program_id}.{service}.{event_type}"


def new_id() -> str:
    """An id for a new row or event: time-ordered (`runtime.ids`), 32 hex digits."""
    return uuid7().hex


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        service: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.service = service
        self._on_commit = on_commit
        self._emitted = 0
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._emitted = 0
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        self._session = None
        if exc_type is None and session.in_transaction() and await _wrote_nothing(session):
            # COMMIT, not close()'s ROLLBACK, for a transaction without a transaction id
            # (PostgreSQL assigns one at its first write or row lock): the two do the same
            # to the database, but psycopg answers every ROLLBACK by deallocating every
            # statement it prepared on the connection, so each read (a balance, an identifier
            # lookup) cost the next requests on that connection their prepared statements.
            # Anything written, or left unflushed in the ORM, is still rolled back.
            await session.commit()
        # close() rolls back anything uncommitted and detaches loaded objects without
        # expiring them, so values read inside the unit of work stay readable after it.
        await session.close()

    async def commit(self) -> None:
        await self.session.commit()
        if self._emitted and self._on_commit is not None:
            # Wake the outbox relay so events go out now rather than at its next poll.
            self._on_commit()
        self._emitted = 0

    async def rollback(self) -> None:
        await self.session.rollback()
        self._emitted = 0

    async def emit(
        self,
        program_id: str,
        event_type: str,
        payload: Message,
        *,
        aggregate_id: str = "",
        occurred_at: datetime | None = None,
    ) -> str:
        """Announce an event; it is published only if this transaction commits."""
        ids = await self.emit_many(
            program_id, event_type, [(payload, aggregate_id)], occurred_at=occurred_at
        )
        return ids[0]

    async def emit_many(
        self,
        program_id: str,
        event_type: str,
        events: Sequence[tuple[Message, str]],
        *,
        occurred_at: datetime | None = None,
        occurred_at_each: Sequence[datetime] | None = None,
    ) -> list[str]:
        """Announce many events of one type, `(payload, aggregate id)` pairs, with one
        multi-row INSERT: a batch of 1,000 credits or imported members is one round trip,
        not 1,000. Same rows, envelopes and trace headers as `emit`. The events happened at
        `occurred_at` (default now), or each at its own `occurred_at_each[i]`."""
        if not events:
            return []
        moments = occurred_at_each or [occurred_at or datetime.now(UTC)] * len(events)
        if len(moments) != len(events):
            raise ValueError("occurred_at_each needs one moment per event")
        headers: dict[str, str] = {}
        propagate.inject(headers)
        ids = [new_id() for _ in events]
        envelopes = [
            build_envelope(
                event_id=event_id,
                program_id=program_id,
                service=self.service,
                event_type=event_type,
                payload=payload,
                aggregate_id=aggregate_id,
                occurred_at=moment,
            ).SerializeToString()
            for event_id, (payload, aggregate_id), moment in zip(ids, events, moments, strict=True)
        ]
        await driver.execute(
            self.session,
            _INSERT_OUTBOX,
            {
                "ids": ids,
                "envelopes": envelopes,
                "program_id": program_id,
                "subject": event_subject(program_id, self.service, event_type),
                "headers": json.dumps(headers),
            },
        )
        self._emitted += len(ids)
        return ids


def build_envelope(
    *,
    event_id: str,
    program_id: str,
    service: str,
    event_type: str,
    payload: Message,
    aggregate_id: str = "",
    occurred_at: datetime | None = None,
) -> common_pb2.EventEnvelope:
    stamp = Timestamp()
    stamp.FromDatetime(occurred_at or datetime.now(UTC))
    return common_pb2.EventEnvelope(
        event_id=event_id,
        program_id=program_id,
        service=service,
        event_type=event_type,
        occurred_at=stamp,
        payload_type=payload.DESCRIPTOR.full_name,
        payload=payload.SerializeToString(),
        aggregate_id=aggregate_id,
    )


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in RETRYABLE_SQLSTATES


_XID_ASSIGNED = "SELECT pg_current_xact_id_if_assigned() IS NOT NULL"


async def _wrote_nothing(session: AsyncSession) -> bool:
    """No unflushed ORM changes and no write or row lock in the open transaction (False when
    that cannot be asked: a transaction aborted by an error the work caught)."""
    if session.new or session.dirty or session.deleted:
        return False
    try:
        rows = await driver.fetch_all(session, _XID_ASSIGNED, {})
    except DBAPIError:
        return False
    return not rows[0][0]


async def run_read(
    uow_factory: Callable[[], UnitOfWork], work: Callable[[UnitOfWork], Awaitable[T]]
) -> T:
    """Run `work`, which only reads, and end its transaction with COMMIT: for a transaction
    that wrote nothing that is what ROLLBACK would do, without psycopg dropping the
    connection's prepared statements and without the round trip `__aexit__` spends finding
    out whether the work wrote. For the read paths that run per request."""
    async with uow_factory() as uow:
        result = await work(uow)
        await uow.commit()
        return result


async def run_in_batches(
    uow_factory: Callable[[], UnitOfWork],
    batch: Callable[[UnitOfWork], Awaitable[int]],
    batch_size: int,
) -> int:
    """Run `batch` (which handles up to `batch_size` items and returns how many) a transaction
    at a time until one comes back short; returns the items handled. A backlog is worked off
    in bounded transactions, never one long one."""
    total = 0
    while True:
        done = await run_in_transaction(uow_factory, batch)
        total += done
        if done < batch_size:
            return total


async def run_in_transaction(
    uow_factory: Callable[[], UnitOfWork],
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    attempts: int = 6,
) -> T:
    """Run `work` in a fresh unit of work and commit; retry on serialization failures and
    deadlocks (never surfaced to a client as INTERNAL)."""
    for attempt in range(attempts):
        try:
            async with uow_factory() as uow:
                result = await work(uow)
                await uow.commit()
                return result
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            if attempt == attempts - 1:
                raise Aborted(
                    "the request conflicted with concurrent changes; retry it with the same "
                    "idempotency key",
                    reason="CONCURRENT_UPDATE",
                ) from exc
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")
