"""The outbox delivers every committed event exactly once: across a NATS outage, a relay
restart, and a crash between publishing and marking sent. Rolled-back events never go out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.plumbing import OutboxEvent
from runtime.db.unit_of_work import UnitOfWork
from runtime.devstack import NatsServer
from runtime.messaging.outbox_relay import OutboxRelay, PendingEvent, outbox_backlog
from runtime.messaging.streams import EVENTS_STREAM
from tamaru.common.v1 import common_pb2


async def emit_events(
    uow_factory: Callable[[], UnitOfWork], program_id: str, count: int, *, commit: bool = True
) -> list[str]:
    ids = []
    for i in range(count):
        async with uow_factory() as uow:
            ids.append(await uow.emit(program_id, "thing_happened", StringValue(value=str(i))))
            if commit:
                await uow.commit()
    return ids


async def delivered_ids(js: JetStreamContext, program_id: str) -> list[str]:
    """Every message the stream holds for this program (an ephemeral consumer reads them all)."""
    sub = await js.pull_subscribe(f"tamaru.evt.{program_id}.>", stream=EVENTS_STREAM)
    ids: list[str] = []
    while True:
        try:
            msgs = await sub.fetch(100, timeout=0.5)
        except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing is left
            break
        for msg in msgs:
            ids.append(common_pb2.EventEnvelope.FromString(msg.data).event_id)
            await msg.ack()
    await sub.unsubscribe()
    return ids


async def unsent(session_factory: async_sessionmaker[AsyncSession], program_id: str) -> int:
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count()).where(
                OutboxEvent.program_id == program_id, OutboxEvent.sent_at.is_(None)
            )
        )
    return int(count or 0)


async def test_committed_events_are_published_once_and_rolled_back_never(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    committed = await emit_events(uow_factory, program_id, 5)
    await emit_events(uow_factory, program_id, 3, commit=False)
    relay = OutboxRelay(session_factory, js)
    while await relay.publish_pending():
        pass
    got = await delivered_ids(js, program_id)
    assert sorted(got) == sorted(committed)
    assert await unsent(session_factory, program_id) == 0


async def test_nats_outage_delays_but_loses_nothing(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    nats_server: NatsServer,
    nc: Client,
    js: JetStreamContext,
    program_id: str,
) -> None:
    relay = OutboxRelay(session_factory, js, poll_interval=0.05, publish_timeout=0.5)
    relay.start()
    try:
        before = await emit_events(uow_factory, program_id, 3)
        await nats_server.stop()
        during = await emit_events(uow_factory, program_id, 7)  # the database is still up
        await asyncio.sleep(0.5)  # the relay tries and fails meanwhile
        assert await unsent(session_factory, program_id) >= 7
        async with session_factory() as session:
            backlog, age = await outbox_backlog(session)
        assert backlog >= 7
        assert age > 0
        await nats_server.start()
        for _ in range(100):
            if await unsent(session_factory, program_id) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await relay.stop()
    got = await delivered_ids(js, program_id)
    assert sorted(got) == sorted(before + during)
    assert len(got) == len(set(got)) == 10


async def test_relay_crash_after_publish_before_mark_does_not_duplicate(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    ids = await emit_events(uow_factory, program_id, 4)
    # A relay that published every row and died before its "sent" mark committed:
    async with session_factory() as session:
        rows = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.program_id == program_id))
        ).all()
    crashed = OutboxRelay(session_factory, js)
    pending = [
        PendingEvent(r.event_id, r.program_id, r.subject, r.envelope, r.headers) for r in rows
    ]
    assert await crashed._publish_all(pending) == [None] * 4
    assert await unsent(session_factory, program_id) == 4
    # A fresh relay (the restart) publishes them again; JetStream drops the duplicates.
    restarted = OutboxRelay(session_factory, js)
    assert await restarted.publish_pending() == 4
    got = await delivered_ids(js, program_id)
    assert sorted(got) == sorted(ids)


async def test_two_relays_share_rows_without_double_publishing(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    ids = await emit_events(uow_factory, program_id, 40)
    a = OutboxRelay(session_factory, js, batch_size=7)
    b = OutboxRelay(session_factory, js, batch_size=7)

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while n := await relay.publish_pending():
            total += n
        return total

    counts = await asyncio.gather(drain(a), drain(b))
    assert sum(counts) >= 40
    got = await delivered_ids(js, program_id)
    assert sorted(got) == sorted(ids)
