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
from datetime import UTC, datetime

from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, TracerProvider
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.plumbing import OutboxEvent

log = logging.getLogger(__name__)


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
            rows = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.sent_at.is_(None))
                    .order_by(OutboxEvent.created_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(row) for row in rows), return_exceptions=True
            )
            sent = [row.event_id for row, r in zip(rows, results, strict=True) if r is None]
            failed = [
                (row.event_id, r)
                for row, r in zip(rows, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if sent:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.event_id.in_(sent))
                    .values(sent_at=datetime.now(UTC), attempts=OutboxEvent.attempts + 1)
                )
            for event_id, error in failed:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.event_id == event_id)
                    .values(attempts=OutboxEvent.attempts + 1, last_error=str(error)[:500])
                )
        if failed and not sent:
            raise failed[0][1]
        return len(sent)

    async def _publish(self, row: OutboxEvent) -> None:
        # The publish span continues the trace of the request whose transaction wrote the row.
        token = otel_context.attach(propagate.extract(row.headers or {}))
        try:
            with self._tracer.start_as_current_span(
                f"{row.subject} publish",
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": row.subject,
                    "messaging.message.id": row.event_id,
                    "tamaru.program_id": row.program_id,
                },
            ):
                headers = {"Nats-Msg-Id": row.event_id}
                propagate.inject(headers)
                await self._js.publish(
                    row.subject, row.envelope, headers=headers, timeout=self._publish_timeout
                )
        finally:
            otel_context.detach(token)


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
