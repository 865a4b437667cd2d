"""Recomputes every member's tier now and then, so demotions happen as the qualifying window
slides (promotions also happen on reads and credits' next refresh)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.programs.spec import ProgramSpec
from services.accounts.service_layer.tiers import refresh_tiers_batch

log = logging.getLogger(__name__)


class TierRefresher:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        programs: Callable[[], list[tuple[str, ProgramSpec]]],
        *,
        interval: float = 3600.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._programs = programs
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tier-refresher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh_all(self) -> None:
        for program_id, spec in self._programs():
            if not spec.tiers.levels:
                continue
            after = ""
            while True:
                after = await run_in_transaction(
                    self._uow_factory,
                    lambda uow, a=after, p=program_id, s=spec: refresh_tiers_batch(  # type: ignore[misc]
                        uow, p, s, after=a
                    ),
                )
                if not after:
                    break

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tier refresh failed; retrying next interval")
