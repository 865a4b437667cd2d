"""Watches billing's parked events: samples their number for the operators' gauge, and replays
a program's events once its config is known but they are still parked (parked by a batch that
committed just after the config hook replayed, or left over by a replay cut short)."""

from __future__ import annotations

import logging

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import NotFound
from runtime.programs.spec import ProgramSpec
from runtime.service import ServiceContext
from runtime.telemetry import metrics
from runtime.workers import PeriodicWorker
from services.billing.adapters.parking_repository import ParkingRepository
from services.billing.service_layer.intake import replay_parked

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0


class ParkedEventsWorker(PeriodicWorker):
    def __init__(self, ctx: ServiceContext, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(
            interval, name="billing-parked-events", failure="billing: parked events check failed"
        )
        self._ctx = ctx

    async def tick(self) -> None:
        waiting = await run_in_transaction(self._ctx.uow, _programs_waiting)
        for program_id in waiting:
            try:
                spec = self._ctx.programs.spec(program_id)
            except NotFound:
                continue  # still no config: they wait
            await self._replay(program_id, spec)
            log.info("billing: replayed the parked events of %s", program_id)
        sizes = await run_in_transaction(self._ctx.uow, _sizes)
        for reason, size in sizes.items():
            metrics.billing_parked_events.set(size, reason=reason)

    async def _replay(self, program_id: str, spec: ProgramSpec) -> None:
        """Chunk by chunk, one transaction each, until none is left."""
        while await run_in_transaction(
            self._ctx.uow, lambda uow: replay_parked(uow, program_id, spec)
        ):
            pass


async def _programs_waiting(uow: UnitOfWork) -> list[str]:
    return await ParkingRepository(uow.session).programs_waiting()


async def _sizes(uow: UnitOfWork) -> dict[str, int]:
    return await ParkingRepository(uow.session).sizes()
