"""The outbox relay: publishes committed event rows to JetStream, at least once.

Rows are *claimed* (`FOR UPDATE SKIP LOCKED`), not read by increasing id: an id sequence can
skip rows whose transaction commits late, and claiming lets several relays share the work.
Each publish carries `Nats-Msg-Id` = event id, so JetStream drops the duplicate that a crash
between "published" and "marked sent" produces; consumers dedupe beyond that window.
NATS being down only delays delivery: rows stay unsent and are retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db import driver
from runtime.db.plumbing import OutboxEvent

log = logging.getLogger(__name__)

# Fixed statements to psycopg (runtime/db/driver.py): the relay handles every event, and ORM
# rows plus an ORM bulk UPDATE (which evaluates its WHERE against every loaded object) cost
# more than the publish itself.
_TABLE = OutboxEvent.__tablename__
_CLAIM = (
    f"SELECT event_id, program_id, subject, envelope, headers FROM {_TABLE} "
    "WHERE sent_at IS NULL ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
_MARK_SENT = (
    f"UPDATE {_TABLE} SET sent_at = clock_timestamp(), attempts = attempts + 1 "
    "WHERE event_id = ANY(%(ids)s)"
)
_MARK_FAILED = (
    f"UPDATE {_TABLE} SET attempts = attempts + 1, last_error = %(error)s WHERE event_id = %(id)s"
)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    event_id: str
    program_id: str
    subject: str
    envelope: bytes
    headers: dict[str, str] | None


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        publish_timeout: float = 5.0,
        max_backoff: float = 5.0,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer("tamaru.messaging.outbox", tracer_provider=tracer_provider)
        self._session_factory = session_factory
        self._js = js
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Called after a commit that emitted events: publish now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                published = await self.publish_pending()
                backoff = 0.1
            except Exception as exc:
                log.warning("outbox relay: publish failed, retrying in %.1fs: %s", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if published < self._batch_size:
                await self._sleep(self._poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def publish_pending(self) -> int:
        """Claim one batch of unsent rows, publish them, mark the acknowledged ones sent.

        Returns how many were published. Raises if JetStream could not take any of them.
        """
        async with self._session_factory() as session, session.begin():
            rows = [
                PendingEvent(*row)
                for row in await driver.fetch_all(session, _CLAIM, {"limit": self._batch_size})
            ]
            if not rows:
                return 0
            results = await self._publish_all(rows)
            sent = [row.event_id for row, r in zip(rows, results, strict=True) if r is None]
            failed = [
                (row.event_id, r)
                for row, r in zip(rows, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if sent:
                await driver.execute(session, _MARK_SENT, {"ids": sent})
            for event_id, error in failed:
                await driver.execute(
                    session, _MARK_FAILED, {"id": event_id, "error": str(error)[:500]}
                )
        if failed and not sent:
            raise failed[0][1]
        return len(sent)

    async def _publish_all(self, rows: list[PendingEvent]) -> list[BaseException | None]:
        """Send every row, then wait for their acks together: one publish-and-wait per event
        cost the relay more CPU than anything else it does. Per row: None when JetStream
        acknowledged it, else the reason it was not."""
        acks: list[asyncio.Future[PubAck] | BaseException] = []
        spans: list[tuple[Span, range]] = []  # each span with its rows' positions
        for batch in _same_trace_and_subject(rows):
            span, headers = self._publish_span(batch)
            spans.append((span, range(len(acks), len(acks) + len(batch))))
            for row in batch:
                try:
                    ack = await self._js.publish_async(
                        row.subject, row.envelope, headers={"Nats-Msg-Id": row.event_id, **headers}
                    )
                    acks.append(ack)
                except Exception as exc:  # e.g. the connection closed: the row stays unsent
                    acks.append(exc)
        waiting = [ack for ack in acks if isinstance(ack, asyncio.Future)]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=self._publish_timeout)
            for ack in late:
                ack.cancel()
        results = [ack if isinstance(ack, BaseException) else _failure(ack) for ack in acks]
        for span, positions in spans:
            _end_span(span, [e for e in (results[i] for i in positions) if e is not None])
        return results

    def _publish_span(self, batch: list[PendingEvent]) -> tuple[Span, dict[str, str]]:
        """One span for the events one transaction wrote to one subject: it continues the
        trace of the request that wrote them and ends when JetStream has acknowledged (or
        refused) them all. A span per event was the relay's largest cost after the publish
        itself for a batch of 1,000 credits. The headers carry it to the consumers."""
        first = batch[0]
        parent = propagate.extract(first.headers or {})
        attributes: dict[str, str | int] = {
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": first.subject,
            "messaging.batch.message_count": len(batch),
            "tamaru.program_id": first.program_id,
        }
        if len(batch) == 1:
            attributes["messaging.message.id"] = first.event_id
        span = self._tracer.start_span(
            f"{first.subject} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        headers: dict[str, str] = {}
        propagate.inject(headers, context=trace.set_span_in_context(span, parent))
        return span, headers


def _same_trace_and_subject(rows: list[PendingEvent]) -> list[list[PendingEvent]]:
    """The rows in runs of the same trace headers and subject (claim order kept)."""
    runs: list[list[PendingEvent]] = []
    for row in rows:
        last = runs[-1][0] if runs else None
        if last is not None and last.subject == row.subject and last.headers == row.headers:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _failure(ack: asyncio.Future[PubAck]) -> BaseException | None:
    """Why an ack future did not bring an acknowledgement (None if it did); one cancelled
    by `_publish_all` ran out of time."""
    if ack.cancelled():
        return TimeoutError("JetStream did not acknowledge the message in time")
    return ack.exception()


def _end_span(span: Span, errors: list[BaseException]) -> None:
    """End a publish span; if some of its events were not acknowledged, it failed (the
    first reason recorded, the count in the status; those rows stay unsent and go again)."""
    if errors:
        span.record_exception(errors[0])
        reason = str(errors[0]) or type(errors[0]).__name__
        span.set_status(Status(StatusCode.ERROR, f"{len(errors)} not acknowledged: {reason}"))
    span.end()


async def outbox_backlog(session: AsyncSession) -> tuple[int, float]:
    """(unsent rows, age in seconds of the oldest unsent row) — for metrics and alerts."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.sent_at.is_(None)
            )
        )
    ).one()
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    return int(count), age
