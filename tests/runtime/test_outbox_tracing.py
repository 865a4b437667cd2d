"""The relay's publish spans: one per transaction and subject, a child of the request that
wrote the events, and the span every published message's trace headers point to."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.wrappers_pb2 import StringValue
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.unit_of_work import UnitOfWork
from runtime.messaging.outbox_relay import OutboxRelay
from runtime.messaging.streams import EVENTS_STREAM


async def test_a_transactions_events_of_one_type_share_one_publish_span(
    session_factory: async_sessionmaker[AsyncSession],
    uow_factory: Callable[[], UnitOfWork],
    js: JetStreamContext,
    program_id: str,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    requests = []
    for name in ("first request", "second request"):
        with tracer.start_as_current_span(name) as request:
            async with uow_factory() as uow:
                for i in range(3):
                    await uow.emit(program_id, "thing_happened", StringValue(value=str(i)))
                await uow.emit(program_id, "other_thing_happened", StringValue(value="x"))
                await uow.commit()
        requests.append(request.get_span_context())
    relay = OutboxRelay(session_factory, js, tracer_provider=provider)
    while await relay.publish_pending():
        pass

    publishes = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    shape = sorted(
        (
            s.parent.span_id if s.parent else 0,
            s.name.rsplit(".", 1)[-1],
            (s.attributes or {}).get("messaging.batch.message_count"),
            "messaging.message.id" in (s.attributes or {}),
        )
        for s in publishes
    )
    assert shape == sorted(
        (request.span_id, name, count, count == 1)
        for request in requests
        for name, count in (("thing_happened publish", 3), ("other_thing_happened publish", 1))
    )
    assert {s.context.trace_id for s in publishes} == {r.trace_id for r in requests}
    # Each message's traceparent names its publish span, so consumers join the same trace.
    sub = await js.pull_subscribe(f"tamaru.evt.{program_id}.>", stream=EVENTS_STREAM)
    msgs = await sub.fetch(8, timeout=5)
    parents = {(m.headers or {})["traceparent"].split("-")[2] for m in msgs}
    assert len(msgs) == 8
    assert parents == {format(s.context.span_id, "016x") for s in publishes}
    await sub.unsubscribe()
