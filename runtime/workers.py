"""Background loops a service owns (sweepers, recovery, announcers): the loop written once.

A worker's `tick()` runs every `interval` seconds until `stop()`. A tick that fails is logged
and the next one tries again (the database may be away for a moment); cancellation ends the
loop at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

# Hourly housekeeping (retention, tier refresh) first runs this long after start: not at once,
# since a starting service is busy enough, and not a whole interval later, since a service
# redeployed more often than hourly would then never run it.
FIRST_PASS_AFTER_START = 300.0


class PeriodicWorker:
    def __init__(
        self,
        interval: float,
        *,
        name: str,
        failure: str,
        first_delay: float = 0.0,
    ) -> None:
        """`failure` starts the log line of a failed tick (operators search for it);
        `first_delay` waits that long (one interval at most) before the first tick instead of
        running at start."""
        self._interval = interval
        self._name = name
        self._failure = failure
        self._first_delay = min(first_delay, interval)
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self._first_delay:
            await asyncio.sleep(self._first_delay)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s; retrying in %.0fs", self._failure, self._interval)
            await asyncio.sleep(self._interval)
