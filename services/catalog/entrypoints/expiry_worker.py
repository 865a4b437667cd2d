"""Background worker: releases reservations nobody committed or released in time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, run_in_batches
from runtime.workers import PeriodicWorker
from services.catalog.service_layer.reservations import release_expired

log = logging.getLogger(__name__)


class ReservationExpiryWorker(PeriodicWorker):
    """Every `interval` seconds, release expired reservations in batches until none are left.

    Replicas may all run one: expired rows are claimed with SKIP LOCKED, so each is released
    once. A second is short enough that stock held by an abandoned order comes back promptly,
    and the query behind it is one index probe when nothing has expired.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        interval: float = 1.0,
        batch_size: int = 200,
    ) -> None:
        super().__init__(
            interval, name="catalog-reservation-expiry", failure="reservation expiry sweep failed"
        )
        self._uow_factory = uow_factory
        self._batch_size = batch_size

    async def sweep(self) -> int:
        """Release everything expired now; returns how many reservations."""
        return await run_in_batches(
            self._uow_factory,
            lambda uow: release_expired(uow, datetime.now(UTC), self._batch_size),
            self._batch_size,
        )

    async def tick(self) -> None:
        released = await self.sweep()
        if released:
            log.info("released %d expired reservations", released)
