"""When a periodic worker (runtime/workers.py) first ticks: at start, or after its first delay,
which may be one interval or less. A worker with a long interval needs less: the retention
purger ticks hourly, and a service redeployed more often than that would otherwise never
purge."""

from __future__ import annotations

import asyncio

from runtime.retention import RetentionPurger
from runtime.workers import PeriodicWorker


class Counting(PeriodicWorker):
    def __init__(self, interval: float, **options: object) -> None:
        super().__init__(interval, name="counting", failure="counting failed", **options)  # type: ignore[arg-type]
        self.ticks = 0

    async def tick(self) -> None:
        self.ticks += 1


async def _ticks_within(worker: Counting, seconds: float) -> int:
    await worker.start()
    await asyncio.sleep(seconds)
    await worker.stop()
    return worker.ticks


async def test_a_worker_ticks_at_start_by_default() -> None:
    assert await _ticks_within(Counting(3600), 0.1) == 1


async def test_a_first_delay_of_one_interval_waits_that_long() -> None:
    assert await _ticks_within(Counting(3600, first_delay=3600), 0.1) == 0


async def test_a_first_delay_shorter_than_the_interval_ticks_soon_then_waits() -> None:
    assert await _ticks_within(Counting(3600, first_delay=0.05), 0.3) == 1


async def test_a_first_delay_longer_than_the_interval_waits_one_interval_only() -> None:
    assert await _ticks_within(Counting(0.05, first_delay=3600), 0.3) >= 1


def test_the_retention_purger_first_runs_minutes_after_start_not_an_hour() -> None:
    purger = RetentionPurger(lambda: None)  # type: ignore[arg-type,return-value]
    assert purger._first_delay <= 600 < purger._interval
