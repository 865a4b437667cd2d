"""The plumbing tables keep what `runtime/retention.py` says and no more: idempotency keys,
published outbox rows and inbox rows past their retention go, batch by batch; younger rows,
and outbox rows not yet published however old, stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork
from runtime.retention import INBOX_RETENTION, SENT_RETENTION, RetentionPurger
from tests.runtime.test_idempotency import count_effects, do_once


async def _rows(uow_factory: Callable[[], UnitOfWork], sql: str, **params: Any) -> list[str]:
    async with uow_factory() as uow:
        return [str(r[0]) for r in await uow.session.execute(text(sql), params)]


async def _run(uow_factory: Callable[[], UnitOfWork], sql: str, **params: Any) -> None:
    async with uow_factory() as uow, uow.session.begin():
        await uow.session.execute(text(sql), params)


def _ago(keep: timedelta, days: int) -> datetime:
    """`days` past (positive) or short of (negative) the end of `keep`."""
    return datetime.now(UTC) - keep - timedelta(days=days)


async def test_keys_past_retention_go_in_batches_and_younger_ones_still_replay(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    for key in ("old-1", "old-2", "old-3", "old-4", "old-5", "young"):
        await do_once(uow_factory, program_id, key, key)
    for key, days in [(f"old-{i}", 1) for i in range(1, 6)] + [("young", -1)]:
        await _run(
            uow_factory,
            "UPDATE idempotency_keys SET created_at = :at WHERE program_id = :p AND key = :k",
            at=_ago(idempotency.RETENTION, days),
            p=program_id,
            k=key,
        )

    purged = await RetentionPurger(uow_factory, batch_size=2).run_once()  # batches: 2, 2, 1...

    assert purged["idempotency_keys"] >= 5  # other tests' keys are younger, but share the table
    keys = "SELECT key FROM idempotency_keys WHERE program_id = :p ORDER BY key"
    assert await _rows(uow_factory, keys, p=program_id) == ["young"]
    assert await do_once(uow_factory, program_id, "young", "young") == "done young"
    assert await count_effects(uow_factory, program_id) == 6  # the replay did nothing again


async def test_published_outbox_rows_go_a_day_after_and_unpublished_ones_never(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    rows = {
        "sent-long-ago": _ago(SENT_RETENTION, 3),
        "sent-a-while-ago": _ago(SENT_RETENTION, 1),
        "sent-recently": _ago(SENT_RETENTION, -1),
        "never-sent": None,
    }
    for name, sent_at in rows.items():
        await _run(
            uow_factory,
            "INSERT INTO outbox_events (event_id, program_id, subject, envelope, headers, "
            "created_at, sent_at, attempts) VALUES (:id, :p, 'tamaru.evt.t', '', '{}', "
            "now() - interval '30 days', :sent_at, 0)",
            id=f"{program_id}-{name}",
            p=program_id,
            sent_at=sent_at,
        )

    purged = await RetentionPurger(uow_factory, batch_size=1).run_once()

    assert purged["outbox_events"] >= 2
    left = "SELECT event_id FROM outbox_events WHERE program_id = :p ORDER BY event_id"
    assert await _rows(uow_factory, left, p=program_id) == [
        f"{program_id}-never-sent",
        f"{program_id}-sent-recently",
    ]


async def test_inbox_rows_go_once_the_stream_could_no_longer_redeliver_their_event(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    consumer = f"retention-{program_id}"
    for event_id, days in (("old", 1), ("young", -1)):
        await _run(
            uow_factory,
            "INSERT INTO inbox_events (consumer, event_id, processed_at) VALUES (:c, :e, :at)",
            c=consumer,
            e=event_id,
            at=_ago(INBOX_RETENTION, days),
        )

    purged = await RetentionPurger(uow_factory).run_once()

    assert purged["inbox_events"] >= 1
    left = "SELECT event_id FROM inbox_events WHERE consumer = :c"
    assert await _rows(uow_factory, left, c=consumer) == ["young"]


async def test_the_purgers_clock_decides_what_is_past_retention(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    """A key made now goes once the purger's clock is past its retention. (Tests run one at a
    time, so the other tests' keys this takes too are done with.)"""
    await do_once(uow_factory, program_id, "k", "v")
    now = datetime.now(UTC)
    keys = "SELECT key FROM idempotency_keys WHERE program_id = :p"

    await RetentionPurger(
        uow_factory, clock=lambda: now + idempotency.RETENTION - timedelta(days=1)
    ).run_once()
    assert await _rows(uow_factory, keys, p=program_id) == ["k"]

    await RetentionPurger(
        uow_factory, clock=lambda: now + idempotency.RETENTION + timedelta(days=1)
    ).run_once()
    assert await _rows(uow_factory, keys, p=program_id) == []
