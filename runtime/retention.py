"""What every service's plumbing tables keep, and the worker that drops the rest.

Nothing else deletes from these tables, so without it each grows by every request and event
for as long as the service runs, and each insert lands on a colder index page:

- idempotency keys: `idempotency.RETENTION` (7 days) after the request; a retry later than
  that runs again;
- outbox rows: `SENT_RETENTION` after they were published (never while unsent); JetStream
  keeps the events themselves for `EVENTS_MAX_AGE`;
- inbox rows: a day longer than JetStream keeps an event, since only an event still in the
  stream can be redelivered and must be recognised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runtime import idempotency
from runtime.db import driver
from runtime.db.plumbing import IdempotencyRecord, InboxEvent, OutboxEvent
from runtime.db.unit_of_work import UnitOfWork, run_in_batches
from runtime.messaging.streams import EVENTS_MAX_AGE
from runtime.workers import FIRST_PASS_AFTER_START, PeriodicWorker

log = logging.getLogger(__name__)

# Long enough for on-call to see in SQL whether and when an event went out.
SENT_RETENTION = timedelta(days=1)
INBOX_RETENTION = timedelta(seconds=EVENTS_MAX_AGE) + timedelta(days=1)


@dataclass(frozen=True)
class Retention:
    """Rows of `table` go once `column` (an indexed moment; NULL: kept) is older than `keep`."""

    table: str
    column: str
    keep: timedelta

    @property
    def purge_sql(self) -> str:
        # Oldest first through the column's index, a bounded batch per statement (a day of
        # keys at a thousand requests a second is 86 million rows: too many for one
        # transaction); SKIP LOCKED lets every replica's purger run without waiting.
        t, c = self.table, self.column
        return (
            f"DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} "
            f"WHERE {c} IS NOT NULL AND {c} < %(cutoff)s ORDER BY {c} LIMIT %(limit)s "
            "FOR UPDATE SKIP LOCKED))"
        )

    async def purge(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Delete up to `limit` rows past retention; fewer than `limit`: none are left."""
        return await driver.execute(
            session, self.purge_sql, {"cutoff": now - self.keep, "limit": limit}
        )


PLUMBING: tuple[Retention, ...] = (
    Retention(IdempotencyRecord.__tablename__, "created_at", idempotency.RETENTION),
    Retention(OutboxEvent.__tablename__, "sent_at", SENT_RETENTION),
    Retention(InboxEvent.__tablename__, "processed_at", INBOX_RETENTION),
)


class RetentionPurger(PeriodicWorker):
    """Every `interval` seconds, purge each of `PLUMBING` batch by batch (a transaction each,
    so a large backlog never holds one long transaction) until a batch comes back short.
    Every service runs one beside its own workers (runtime/service.py)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 3600.0,
        first_delay: float = FIRST_PASS_AFTER_START,
        batch_size: int = 10_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            interval,
            name="retention-purger",
            failure="retention purge failed",
            first_delay=first_delay,
        )
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._clock = clock

    async def run_once(self) -> dict[str, int]:
        """Purge everything past retention now; returns rows deleted per table."""
        now = self._clock()
        return {r.table: await self._drain(r, now) for r in PLUMBING}

    async def _drain(self, retention: Retention, now: datetime) -> int:
        return await run_in_batches(
            self._uow_factory,
            lambda uow: retention.purge(uow.session, now, self._batch_size),
            self._batch_size,
        )

    async def tick(self) -> None:
        purged = {table: n for table, n in (await self.run_once()).items() if n}
        if purged:
            log.info("retention purge: %s", ", ".join(f"{n} from {t}" for t, n in purged.items()))
