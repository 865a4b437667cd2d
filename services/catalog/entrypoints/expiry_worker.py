"""Background worker: releases reservations nobody committed or released in time, and drops
idempotency keys past their retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
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
        purge_every: float = 3600.0,
    ) -> None:
        super().__init__(
            interval, name="catalog-reservation-expiry", failure="reservation expiry sweep failed"
        )
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._purge_every = purge_every
        self._next_purge = 0.0

    async def sweep(self) -> int:
        """Release everything expired now; returns how many reservations."""
        total = 0
        while True:
            released = await run_in_transaction(
                self._uow_factory,
                lambda uow: release_expired(uow, datetime.now(UTC), self._batch_size),
            )
            total += released
            if released < self._batch_size:
                return total

    async def purge_idempotency_keys(self) -> int:
        async def purge(uow: UnitOfWork) -> int:
            return await idempotency.purge_expired(uow.session)

        return await run_in_transaction(self._uow_factory, purge)

    async def tick(self) -> None:
        released = await self.sweep()
        if released:
            log.info("released %d expired reservations", released)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self._purge_every
            await self.purge_idempotency_keys()
