"""Idempotency keys past `RETENTION` are purged (runtime/idempotency_purger.py), batch by
batch; younger keys stay and still replay their first response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork
from runtime.idempotency_purger import IdempotencyKeyPurger
from tests.runtime.test_idempotency import count_effects, do_once


async def _keys(uow_factory: Callable[[], UnitOfWork], program_id: str) -> list[str]:
    async with uow_factory() as uow:
        rows = await uow.session.execute(
            text("SELECT key FROM idempotency_keys WHERE program_id = :p ORDER BY key"),
            {"p": program_id},
        )
        return [str(r[0]) for r in rows]


async def _age(uow_factory: Callable[[], UnitOfWork], program_id: str, key: str, days: int) -> None:
    async with uow_factory() as uow, uow.session.begin():
        await uow.session.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - make_interval(days => :d) "
                "WHERE program_id = :p AND key = :k"
            ),
            {"d": days, "p": program_id, "k": key},
        )


async def test_keys_past_retention_go_in_batches_and_younger_ones_still_replay(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    for key in ("old-1", "old-2", "old-3", "old-4", "old-5", "young"):
        await do_once(uow_factory, program_id, key, key)
    retention_days = idempotency.RETENTION.days
    for key in ("old-1", "old-2", "old-3", "old-4", "old-5"):
        await _age(uow_factory, program_id, key, retention_days + 1)
    await _age(uow_factory, program_id, "young", retention_days - 1)

    purger = IdempotencyKeyPurger(uow_factory, batch_size=2)  # three batches: 2, 2, 1 (or more)
    purged = await purger.run_once()

    assert purged >= 5  # other tests' keys are all younger, but may share the table
    assert await _keys(uow_factory, program_id) == ["young"]
    assert await do_once(uow_factory, program_id, "young", "young") == "done young"
    assert await count_effects(uow_factory, program_id) == 6  # the replay did nothing again


async def test_the_clock_decides_what_is_past_retention(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    """The purger's clock, not the database's: a key made now goes once the clock is past
    its retention. (Tests run one at a time, so the keys of others it also takes are done.)"""
    await do_once(uow_factory, program_id, "k", "v")
    now = datetime.now(UTC)
    a_day_short = IdempotencyKeyPurger(
        uow_factory, clock=lambda: now + idempotency.RETENTION - timedelta(days=1)
    )
    a_day_past = IdempotencyKeyPurger(
        uow_factory, clock=lambda: now + idempotency.RETENTION + timedelta(days=1)
    )

    await a_day_short.run_once()
    assert await _keys(uow_factory, program_id) == ["k"]
    assert await a_day_past.run_once() >= 1
    assert await _keys(uow_factory, program_id) == []
