"""Announces scheduled news posts (`news_published`) when their publish time comes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from services.accounts.service_layer.news import announce_due_news

log = logging.getLogger(__name__)


class NewsAnnouncer:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 5.0,
        batch_size: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow_factory = uow_factory
        self._interval = interval
        self._batch_size = batch_size
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="news-announcer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Announce every post that is due; returns how many."""
        total = 0
        now = self._clock()
        while True:
            done = await run_in_transaction(
                self._uow_factory, lambda uow: announce_due_news(uow, now, self._batch_size)
            )
            total += done
            if done < self._batch_size:
                return total

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # keep announcing after a database hiccup
                log.exception("news announcement failed; retrying in %.0fs", self._interval)
            await asyncio.sleep(self._interval)
