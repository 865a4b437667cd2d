"""Every service's idempotency keys, dropped once past their retention (`runtime.idempotency`).

Without it the table, and its primary-key index of random keys, grows by every mutating
request for as long as the service runs; each insert then lands on a colder index page. The
service starts one purger beside its own workers (runtime/service.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.workers import PeriodicWorker

log = logging.getLogger(__name__)


class IdempotencyKeyPurger(PeriodicWorker):
    """Every `interval` seconds, delete expired keys batch by batch (a transaction each, so a
    large backlog never holds one long transaction) until a batch comes back short."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 3600.0,
        batch_size: int = 10_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # The first pass waits one interval: a service starting is busy enough.
        super().__init__(
            interval,
            name="idempotency-purger",
            failure="idempotency purge failed",
            delay_first=True,
        )
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._clock = clock

    async def run_once(self) -> int:
        """Purge everything past retention now; returns how many keys went."""
        now, total = self._clock(), 0
        while True:
            purged = await run_in_transaction(
                self._uow_factory,
                lambda uow: idempotency.purge_expired(uow.session, now, self._batch_size),
            )
            total += purged
            if purged < self._batch_size:
                return total

    async def tick(self) -> None:
        purged = await self.run_once()
        if purged:
            log.info("purged %d idempotency keys past their retention", purged)
