"""Saga recovery: finishes or undoes orders nobody is driving any more.

A saga whose driver died (process killed, pod evicted) keeps its lease until it runs out; then
this worker, on any replica, claims it and drives it to its end. It runs once at start and then
every `interval` seconds; a saga that must wait (a dependency down) comes back after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from runtime.db.unit_of_work import UnitOfWork
from runtime.telemetry import metrics
from runtime.workers import PeriodicWorker
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.service_layer.saga_runner import SagaRunner, new_owner

log = logging.getLogger(__name__)


class SagaRecovery(PeriodicWorker):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        runner: SagaRunner,
        knows_program: Callable[[str], bool],
        *,
        interval: float = 2.0,
        batch_size: int = 20,
    ) -> None:
        super().__init__(interval, name="saga-recovery", failure="saga recovery pass failed")
        self._uow_factory = uow_factory
        self._runner = runner
        self._knows_program = knows_program
        self._batch_size = batch_size

    async def run_once(self) -> int:
        """Drive every saga whose lease has passed; returns how many were taken over."""
        async with self._uow_factory() as uow:
            due = await OrderRepository(uow.session).due_for_recovery(self._batch_size)
        taken = 0
        for order_id, program_id in due:
            if not self._knows_program(program_id):
                continue  # right after a start, before the program config has been replayed
            owner = new_owner()
            if not await self._runner.claim(order_id, owner):
                continue  # another replica got there first
            taken += 1
            try:
                order = await self._runner.drive(order_id, owner)
                log.info("recovered order %s: %s", order_id, order.status.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recovering order %s failed; will retry", order_id)
        return taken

    async def sample_metrics(self) -> None:
        """Sagas not done yet, by status and phase, and the oldest one's age (an alert on it
        catches a stuck saga; docs/operations.md)."""
        async with self._uow_factory() as uow:
            rows = await OrderRepository(uow.session).unfinished_summary()
        metrics.saga_orders.values.clear()
        oldest = 0.0
        for status, phase, count, age in rows:
            metrics.saga_orders.set(count, status=status, phase=phase)
            oldest = max(oldest, age)
        metrics.saga_oldest_age.set(oldest)

    async def tick(self) -> None:
        await self.run_once()
        await self.sample_metrics()
