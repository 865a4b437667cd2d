"""Recomputes every member's tier now and then, so demotions happen as the qualifying window
slides (promotions also happen on reads and credits' next refresh)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.programs.spec import ProgramSpec
from runtime.workers import FIRST_PASS_AFTER_START, PeriodicWorker
from services.accounts.service_layer.tiers import refresh_tiers_batch

log = logging.getLogger(__name__)


class TierRefresher(PeriodicWorker):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        programs: Callable[[], list[tuple[str, ProgramSpec]]],
        *,
        interval: float = 3600.0,
        first_delay: float = FIRST_PASS_AFTER_START,
    ) -> None:
        super().__init__(
            interval, name="tier-refresher", failure="tier refresh failed", first_delay=first_delay
        )
        self._uow_factory = uow_factory
        self._programs = programs

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

    async def tick(self) -> None:
        await self.refresh_all()
