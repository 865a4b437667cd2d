"""Durable JetStream pull consumers that apply each event exactly once (via the inbox).

message -> EventEnvelope -> handler(uow, envelope) inside one transaction with the inbox claim;
ack after commit. A poison message (an undecodable envelope or payload, or a domain error that
no retry can fix) is terminated and logged; anything else (a database error, another service
unavailable) is nak'ed with a growing delay and redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, TracerProvider

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import Code, TamaruError
from runtime.messaging.inbox import claim_event
from runtime.messaging.streams import EVENTS_STREAM
from runtime.telemetry.logging import bind_program_id
from tamaru.common.v1 import common_pb2

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, common_pb2.EventEnvelope], Awaitable[None]]

# A handler's errors that say "not now" rather than "never": another service away or slow, a
# conflict. The event is redelivered with a growing delay; every other TamaruError is a
# domain refusal no retry can fix, and terminates it.
TRANSIENT = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.ABORTED})


def process_attributes(
    msg: Msg, envelope: common_pb2.EventEnvelope, durable: str
) -> dict[str, str]:
    """A consumer's process span for one event (messaging semantic conventions)."""
    return {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": msg.subject,
        "messaging.consumer.group.name": durable,
        "messaging.message.id": envelope.event_id,
        "tamaru.program_id": envelope.program_id,
    }


def subject_filters(config: ConsumerConfig) -> list[str]:
    """The subjects a consumer's config filters on, in either of its two forms."""
    if config.filter_subject:
        return [config.filter_subject]
    return list(config.filter_subjects or [])


class EventConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        uow_factory: Callable[[], UnitOfWork],
        *,
        durable: str,
        subjects: list[str],
        handler: EventHandler,
        batch_size: int = 100,
        ack_wait: float = 30.0,
    ) -> None:
        self._js = js
        self._uow_factory = uow_factory
        self.durable = durable
        self._subjects = subjects
        self._handler = handler
        self._batch_size = batch_size
        self._ack_wait = ack_wait
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sub: JetStreamContext.PullSubscription | None = None
        self._tracer = trace.get_tracer(__name__)

    def use_tracer_provider(self, tracer_provider: TracerProvider) -> None:
        """The service's provider (set by ServiceApp), so spans name the right service."""
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    async def start(self) -> None:
        # One subject goes in `filter_subject`, which every JetStream server honours; several
        # need `filter_subjects`, which servers before 2.10 silently drop, leaving a consumer
        # that receives every event. The filter the server kept is checked below.
        filters: dict[str, Any] = (
            {"filter_subject": self._subjects[0]}
            if len(self._subjects) == 1
            else {"filter_subjects": self._subjects}
        )
        config = ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_ack_pending=self._batch_size * 10,
            **filters,
        )
        # add_consumer creates the durable or updates its config (filters may change between
        # releases); then bind to it.
        info = await self._js.add_consumer(EVENTS_STREAM, config=config)
        kept = subject_filters(info.config)
        if sorted(kept) != sorted(self._subjects):
            raise RuntimeError(
                f"consumer {self.durable}: the NATS server kept the subject filter {kept} instead "
                f"of {self._subjects}; several filters on one consumer need NATS 2.10 or later"
            )
        sub = await self._js.pull_subscribe_bind(durable=self.durable, stream=EVENTS_STREAM)
        self._sub = sub
        self._stopping = False
        self._task = asyncio.create_task(self._run(sub), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await self._task
            self._task = None
        if self._sub is not None:
            # A fetch that timed out can still have messages arriving for it; nobody reads them
            # now, and a connection drain would wait for them until its timeout. Unacked, they
            # are redelivered to the next start after ack_wait.
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            try:
                msgs = await sub.fetch(self._batch_size, timeout=0.5)
            except (NatsTimeout, TimeoutError):  # nats-py raises either on an empty fetch
                continue
            except Exception as exc:  # NATS down: wait for the client to reconnect
                log.warning("consumer %s: fetch failed: %s", self.durable, exc)
                await asyncio.sleep(0.5)
                continue
            await self.process_batch(msgs)

    async def process_batch(self, msgs: list[Msg]) -> None:
        """One fetch's messages; one transaction each here. A consumer that applies a whole
        batch in one transaction overrides this (billing's does)."""
        for msg in msgs:
            await self.process(msg)

    async def process(self, msg: Msg) -> None:
        try:
            envelope = common_pb2.EventEnvelope.FromString(msg.data)
        except DecodeError:
            log.error("consumer %s: undecodable message on %s", self.durable, msg.subject)
            await msg.term()
            return
        token = otel_context.attach(propagate.extract(msg.headers or {}))
        try:
            with (
                bind_program_id(envelope.program_id or None),
                self._tracer.start_as_current_span(
                    f"{msg.subject} process",
                    kind=SpanKind.CONSUMER,
                    attributes=process_attributes(msg, envelope, self.durable),
                ),
            ):
                await self._apply(msg, envelope)
        finally:
            otel_context.detach(token)

    async def _apply(self, msg: Msg, envelope: common_pb2.EventEnvelope) -> None:
        async def work(uow: UnitOfWork) -> None:
            if await claim_event(uow.session, self.durable, envelope.event_id):
                await self._handler(uow, envelope)

        try:
            await run_in_transaction(self._uow_factory, work)
        except DecodeError as exc:  # a payload that does not parse never will
            await self._reject(msg, envelope, f"has an undecodable payload: {exc}")
            return
        except TamaruError as exc:
            if exc.code in TRANSIENT:
                await self._retry_later(msg, envelope, exc)
            else:
                await self._reject(msg, envelope, f"rejected for good: {exc.message}")
            return
        except Exception as exc:
            await self._retry_later(msg, envelope, exc)
            return
        await msg.ack()

    async def _reject(self, msg: Msg, envelope: common_pb2.EventEnvelope, why: str) -> None:
        """Terminate a poison event: no redelivery could ever apply it."""
        event = f"{envelope.event_id} ({envelope.event_type})"
        log.error("consumer %s: event %s %s", self.durable, event, why)
        await msg.term()

    async def _retry_later(
        self, msg: Msg, envelope: common_pb2.EventEnvelope, exc: Exception
    ) -> None:
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        log.error(
            "consumer %s: event %s failed (%s), redelivered later",
            self.durable,
            envelope.event_id,
            exc,
            exc_info=not isinstance(exc, TamaruError),
        )
        await msg.nak(delay=min(0.2 * 2 ** min(delivered, 6), 10.0))
