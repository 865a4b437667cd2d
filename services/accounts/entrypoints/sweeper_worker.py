"""The ledger's background worker: runs the expiry and hold-timeout sweeps on a timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.telemetry import metrics
from runtime.workers import PeriodicWorker
from services.accounts.service_layer.sweeps import (
    SweepResult,
    announce_expiring_soon,
    expire_due_lots,
    expiry_backlog,
    release_timed_out_holds,
)

log = logging.getLogger(__name__)

Sweep = Callable[[UnitOfWork, datetime, int], Awaitable[SweepResult]]


class LedgerSweeper(PeriodicWorker):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 5.0,
        batch_size: int = 5000,
        expiry_workers: int = 2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reminder_days: Callable[[], dict[str, int]] = dict,
    ) -> None:
        super().__init__(interval, name="ledger-sweeper", failure="ledger sweep failed")
        self._reminder_days = reminder_days  # program id -> its expiringSoonDays
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._expiry_workers = expiry_workers
        self._clock = clock

    async def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        """Sweep until nothing due is left (or only busy accounts); returns (expired lots,
        released holds).

        Expiry batches lock their lots and accounts with SKIP LOCKED, so `expiry_workers` of
        them run at once without waiting for each other: while PostgreSQL writes one batch,
        Python plans the next. A lot one worker skipped because another held its account is
        left for the last, single drain."""
        now = now or self._clock()
        drains = [self._drain(expire_due_lots, now) for _ in range(self._expiry_workers)]
        expired = sum(await asyncio.gather(*drains))
        if self._expiry_workers > 1:
            expired += await self._drain(expire_due_lots, now)
        released = await self._drain(release_timed_out_holds, now)
        async with self._uow_factory() as uow:
            metrics.expiry_backlog.set(await expiry_backlog(uow, now))
        await self.remind(now)
        return expired, released

    async def _drain(self, sweep: Sweep, now: datetime) -> int:
        """Run `sweep` batch after batch until a batch comes back short or does nothing."""
        total = 0
        while True:
            result = await run_in_transaction(
                self._uow_factory, lambda uow: sweep(uow, now, self._batch_size)
            )
            total += result.done
            if result.found < self._batch_size or result.done == 0:
                return total

    async def remind(self, now: datetime) -> int:
        """Announce points expiring within each program's horizon; returns reminders sent."""
        sent = 0
        for program_id, days in sorted(self._reminder_days().items()):
            while True:
                result = await run_in_transaction(
                    self._uow_factory,
                    lambda uow, p=program_id, d=days: announce_expiring_soon(  # type: ignore[misc]
                        uow, p, d, now, self._batch_size
                    ),
                )
                sent += result.done
                if result.found < self._batch_size:
                    break
        return sent

    async def tick(self) -> None:
        expired, released = await self.run_once()
        if expired or released:
            log.info("ledger sweep: %d lots expired, %d holds released", expired, released)
