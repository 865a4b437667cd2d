"""Billing's durable consumers of accounts', redeem's and earn's events (inbox: each event takes
effect once). One durable per service, so a backlog of one's events never delays another's.

Each fetch (up to BATCH_SIZE messages) is applied in one transaction, each program's drafts
recomputed once per batch (service_layer/intake.py). Events of a program without a config on
billing yet are parked and acked, not redelivered. When a batch fails, its events are applied
one by one: the healthy ones go through, and one that still fails after MAX_ATTEMPTS
deliveries (or is refused by a domain rule) is parked as poison with its error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanContext, SpanKind
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import NotFound, TamaruError
from runtime.messaging.consumer import EventConsumer, process_attributes
from runtime.programs.spec import ProgramSpec
from runtime.service import ServiceContext
from services.billing.adapters.parking_repository import RawEvent
from services.billing.service_layer.feeds import ACCOUNTS, EARN, REDEEM, Feed
from services.billing.service_layer.intake import Received, apply_events, park_poison
from tamaru.common.v1 import common_pb2

log = logging.getLogger(__name__)

DURABLE = ACCOUNTS.durable
SUBJECTS = ACCOUNTS.subjects
REDEEM_DURABLE = REDEEM.durable
REDEEM_SUBJECTS = REDEEM.subjects
EARN_DURABLE = EARN.durable
EARN_SUBJECTS = EARN.subjects

BATCH_SIZE = 200
MAX_ATTEMPTS = 5
PARKING_FULL_DELAY = 60.0  # seconds before an event of a program whose parking is full returns


class BillingConsumer(EventConsumer):
    """The runtime's durable pull consumer, applying a whole fetch per transaction."""

    def __init__(self, ctx: ServiceContext, feed: Feed) -> None:
        super().__init__(
            ctx.js,
            ctx.uow,
            durable=feed.durable,
            subjects=feed.subjects,
            handler=self._handle_one,
            batch_size=BATCH_SIZE,
        )
        self._feed = feed
        self._ctx = ctx

    def _spec_of(self, program_id: str) -> ProgramSpec | None:
        try:
            return self._ctx.programs.spec(program_id)
        except NotFound:
            return None

    async def _handle_one(self, uow: UnitOfWork, envelope: common_pb2.EventEnvelope) -> None:
        raise NotImplementedError("billing applies batches (process_batch)")

    async def process_batch(self, msgs: list[Msg]) -> None:
        received: list[tuple[Msg, Received]] = []
        for msg in msgs:
            try:
                envelope = common_pb2.EventEnvelope.FromString(msg.data)
            except DecodeError:
                log.error("consumer %s: undecodable message on %s", self.durable, msg.subject)
                await msg.term()
                continue
            received.append((msg, (raw_event(self.durable, msg, envelope), envelope)))
        if not received:
            return
        started = time.time_ns()
        with self._tracer.start_as_current_span(
            f"{self.durable} process batch",
            kind=SpanKind.CONSUMER,
            links=_links([m for m, _ in received]),
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.durable,
                "messaging.batch.message_count": len(received),
            },
        ) as batch:
            await self._apply_batch(received)
        self._trace_each(received, started, batch.get_span_context())

    def _trace_each(
        self, received: Sequence[tuple[Msg, Received]], started: int, batch: SpanContext
    ) -> None:
        """A process span per event in the event's own trace (a child of its publish, linked to
        the batch span), so following one request still leads into billing."""
        for msg, (_, envelope) in received:
            self._tracer.start_span(
                f"{msg.subject} process",
                context=propagate.extract(msg.headers or {}),
                kind=SpanKind.CONSUMER,
                start_time=started,
                links=[Link(batch)],
                attributes=process_attributes(msg, envelope, self.durable),
            ).end()

    async def _apply_batch(self, received: Sequence[tuple[Msg, Received]]) -> None:
        events = [item for _, item in received]
        try:
            settled = await run_in_transaction(
                self._uow_factory, lambda uow: apply_events(uow, self._feed, events, self._spec_of)
            )
        except Exception as exc:
            log.warning(
                "consumer %s: batch of %d failed (%s); applying its events one by one",
                self.durable,
                len(events),
                exc,
            )
            for msg, item in received:
                await self._apply_alone(msg, item)
            return
        for (msg, _), done in zip(received, settled, strict=True):
            await _settle(msg, done)

    async def _apply_alone(self, msg: Msg, item: Received) -> None:
        raw, envelope = item
        try:
            settled = await run_in_transaction(
                self._uow_factory, lambda uow: apply_events(uow, self._feed, [item], self._spec_of)
            )
        except Exception as exc:
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            if _infrastructure(exc) or (
                not isinstance(exc, TamaruError) and delivered < MAX_ATTEMPTS
            ):
                log.exception("consumer %s: event %s failed", self.durable, envelope.event_id)
                await msg.nak(delay=min(0.2 * 2 ** min(delivered, 6), 10.0))
                return
            await self._park_poison(msg, raw, envelope, exc, delivered)
            return
        await _settle(msg, settled[0])

    async def _park_poison(
        self,
        msg: Msg,
        raw: RawEvent,
        envelope: common_pb2.EventEnvelope,
        exc: Exception,
        delivered: int,
    ) -> None:
        error = exc.message if isinstance(exc, TamaruError) else f"{type(exc).__name__}: {exc}"
        try:
            await run_in_transaction(self._uow_factory, lambda uow: park_poison(uow, raw, error))
        except Exception:
            log.exception("consumer %s: could not park event %s", self.durable, raw.event_id)
            await msg.nak(delay=10.0)
            return
        log.error(
            "consumer %s: event %s (%s) of %s parked as poison after %d deliveries: %s",
            self.durable,
            raw.event_id,
            envelope.event_type,
            raw.program_id,
            delivered,
            error,
        )
        await msg.ack()


def _infrastructure(exc: Exception) -> bool:
    """The database or the network failed, not the event: retried however often it happens, so
    an outage never parks healthy events as poison."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def raw_event(durable: str, msg: Msg, envelope: common_pb2.EventEnvelope) -> RawEvent:
    return RawEvent(
        durable=durable,
        stream_seq=msg.metadata.sequence.stream if msg.metadata else 0,
        program_id=envelope.program_id,
        event_id=envelope.event_id,
        subject=msg.subject,
        envelope=msg.data,
        headers=dict(msg.headers or {}),
    )


async def _settle(msg: Msg, done: bool) -> None:
    if done:
        await msg.ack()
    else:  # its program's parking is full: it comes back later, nothing is lost
        await msg.nak(delay=PARKING_FULL_DELAY)


def _links(msgs: list[Msg]) -> list[Link]:
    """Each message's producer span, so a batch's span leads back to every event's request."""
    links = []
    for msg in msgs:
        context = trace.get_current_span(propagate.extract(msg.headers or {})).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    return links


def accounts_consumer(ctx: ServiceContext) -> EventConsumer:
    return BillingConsumer(ctx, ACCOUNTS)


def redeem_consumer(ctx: ServiceContext) -> EventConsumer:
    return BillingConsumer(ctx, REDEEM)


def earn_consumer(ctx: ServiceContext) -> EventConsumer:
    return BillingConsumer(ctx, EARN)
