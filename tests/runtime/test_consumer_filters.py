"""A consumer receives only its subjects, whatever JetStream server it meets: one subject goes
in `filter_subject` (NATS before 2.10 silently drops `filter_subjects`, and such a consumer
would get every event), and a durable left without a filter is narrowed on start."""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.unit_of_work import UnitOfWork
from runtime.messaging.consumer import EventConsumer, subject_filters
from runtime.messaging.streams import EVENTS_STREAM
from tests.runtime.test_consumer_inbox import effects, publish, recording_handler, wait_for


async def test_a_durable_left_without_a_filter_gets_only_its_subject_after_start(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    durable = f"filters-{program_id}"
    # What a server that dropped `filter_subjects` leaves behind: a durable on every subject.
    unfiltered = ConsumerConfig(
        durable_name=durable,
        name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
    )
    await js.add_consumer(EVENTS_STREAM, config=unfiltered)
    wanted = f"tamaru.evt.{program_id}.rt.thing_happened"
    consumer = EventConsumer(
        js,
        uow_factory,
        durable=durable,
        subjects=[wanted],
        handler=recording_handler(program_id),  # type: ignore[arg-type]
    )
    await consumer.start()
    try:
        info = await js.consumer_info(EVENTS_STREAM, durable)
        assert (info.config.filter_subject, subject_filters(info.config)) == (wanted, [wanted])
        await publish(js, program_id, "other", "x", "m-other", event_type="other_thing")
        await publish(js, program_id, "mine", "y", "m-mine")

        async def applied() -> bool:
            return "mine" in await effects(session_factory, program_id)

        await wait_for(applied)
    finally:
        await consumer.stop()
    assert await effects(session_factory, program_id) == ["mine"]
