"""Announces scheduled news posts (`news_published`) when their publish time comes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, run_in_batches
from runtime.workers import PeriodicWorker
from services.accounts.service_layer.news import announce_due_news

log = logging.getLogger(__name__)


class NewsAnnouncer(PeriodicWorker):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 5.0,
        batch_size: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(interval, name="news-announcer", failure="news announcement failed")
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._clock = clock

    async def run_once(self) -> int:
        """Announce every post that is due; returns how many."""
        now = self._clock()
        return await run_in_batches(
            self._uow_factory,
            lambda uow: announce_due_news(uow, now, self._batch_size),
            self._batch_size,
        )

    async def tick(self) -> None:
        await self.run_once()
