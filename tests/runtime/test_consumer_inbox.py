"""Event consumers apply each event once: duplicates (even with different Nats-Msg-Ids),
redeliveries after a failure and a consumer restart never repeat an effect; a domain refusal
is terminated, but "another service is unavailable" is retried."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.unit_of_work import UnitOfWork, build_envelope
from runtime.errors import InvalidArgument, Unavailable
from runtime.messaging.consumer import EventConsumer
from runtime.messaging.inbox import claim_event
from runtime.messaging.streams import EVENTS_STREAM
from tamaru.common.v1 import common_pb2


async def effects(session_factory: async_sessionmaker[AsyncSession], prefix: str) -> list[str]:
    async with session_factory() as session:
        rows = await session.execute(
            text("SELECT event_id FROM effects WHERE note = :p ORDER BY event_id"), {"p": prefix}
        )
        return [r[0] for r in rows]


def recording_handler(
    note: str, fail_first: set[str] | None = None, away_first: set[str] | None = None
) -> Callable[..., object]:
    failures = set(fail_first or ())
    aways = set(away_first or ())

    async def handle(uow: UnitOfWork, envelope: common_pb2.EventEnvelope) -> None:
        await uow.session.execute(
            text("INSERT INTO effects (event_id, note) VALUES (:e, :n)"),
            {"e": envelope.event_id, "n": note},
        )
        if envelope.event_id in failures:
            failures.discard(envelope.event_id)
            raise RuntimeError("transient failure")  # rolled back with the inbox claim
        if envelope.event_id in aways:
            aways.discard(envelope.event_id)
            raise Unavailable("another service is away for a moment")  # not poison: retried
        if StringValue.FromString(envelope.payload).value == "poison":
            raise InvalidArgument("this event can never be applied")

    return handle


async def publish(
    js: JetStreamContext,
    program_id: str,
    event_id: str,
    value: str,
    msg_id: str,
    event_type: str = "thing_happened",
) -> None:
    envelope = build_envelope(
        event_id=event_id,
        program_id=program_id,
        service="rt",
        event_type=event_type,
        payload=StringValue(value=value),
    )
    await js.publish(
        f"tamaru.evt.{program_id}.rt.{event_type}",
        envelope.SerializeToString(),
        headers={"Nats-Msg-Id": msg_id},
    )


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not await predicate():  # type: ignore[misc]
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


def program_consumer(
    js: JetStreamContext,
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    handler: Callable[..., object],
) -> EventConsumer:
    """A durable on every event of the test's program."""
    return EventConsumer(
        js,
        uow_factory,
        durable=f"test-{program_id}",
        subjects=[f"tamaru.evt.{program_id}.>"],
        handler=handler,  # type: ignore[arg-type]
    )


async def test_duplicates_and_redeliveries_take_effect_once(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    consumer = program_consumer(
        js,
        uow_factory,
        program_id,
        recording_handler(program_id, fail_first={"e2"}, away_first={"e4"}),
    )
    await consumer.start()
    try:
        await publish(js, program_id, "e1", "a", "m1")
        await publish(js, program_id, "e1", "a", "m1-again")  # same event, new msg id
        await publish(js, program_id, "e2", "b", "m2")  # fails once, then redelivered
        await publish(js, program_id, "e3", "poison", "m3")  # terminated, no effect
        await publish(js, program_id, "e4", "c", "m4")  # UNAVAILABLE once, then redelivered

        async def done() -> bool:
            return await effects(session_factory, program_id) == ["e1", "e2", "e4"]

        await wait_for(done)
    finally:
        await consumer.stop()

    # A restarted consumer (same durable) does not re-apply anything.
    again = program_consumer(js, uow_factory, program_id, recording_handler(program_id))
    await again.start()
    await publish(js, program_id, "e5", "d", "m5")

    async def five() -> bool:
        return "e5" in await effects(session_factory, program_id)

    try:
        await wait_for(five)
    finally:
        await again.stop()
    assert await effects(session_factory, program_id) == ["e1", "e2", "e4", "e5"]


async def test_concurrent_claims_of_one_event_let_exactly_one_win(
    session_factory: async_sessionmaker[AsyncSession], program_id: str
) -> None:
    async def claim() -> bool:
        async with session_factory() as session, session.begin():
            won = await claim_event(session, program_id, "same-event")
            await asyncio.sleep(0.05)
            return won

    results = await asyncio.gather(*(claim() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_an_event_whose_payload_does_not_parse_is_terminated_not_retried(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    consumer = program_consumer(js, uow_factory, program_id, recording_handler(program_id))
    await consumer.start()
    try:
        garbled = build_envelope(
            event_id="g1",
            program_id=program_id,
            service="rt",
            event_type="thing_happened",
            payload=StringValue(value="x"),
        )
        garbled.payload = b"\xff\xff\xff"
        await js.publish(
            f"tamaru.evt.{program_id}.rt.thing_happened",
            garbled.SerializeToString(),
            headers={"Nats-Msg-Id": "g1"},
        )
        await publish(js, program_id, "after", "z", "m-after")

        async def applied() -> bool:
            return "after" in await effects(session_factory, program_id)

        await wait_for(applied)
        info = await js.consumer_info(EVENTS_STREAM, f"test-{program_id}")
    finally:
        await consumer.stop()
    assert await effects(session_factory, program_id) == ["after"]
    assert (info.num_ack_pending, info.num_redelivered) == (0, 0)  # terminated at once
