"""Reads a program's events back from JetStream with an ephemeral consumer (no acks, removed
by the server when idle), for reconciliation. Never touches billing's durable consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime.messaging.streams import EVENTS_STREAM
from tamaru.common.v1 import common_pb2

BATCH = 500


async def replay(js: JetStreamContext, subject: str) -> AsyncIterator[common_pb2.EventEnvelope]:
    """Every event the stream holds on `subject`, oldest first, then stop."""
    sub = await js.pull_subscribe(
        subject,
        durable=None,
        stream=EVENTS_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=30.0,
            mem_storage=True,
        ),
    )
    try:
        remaining = (await sub.consumer_info()).num_pending or 0
        while remaining > 0:
            try:
                msgs = await sub.fetch(min(BATCH, remaining), timeout=5.0)
            except (NatsTimeout, TimeoutError):
                break  # the stream shrank meanwhile (retention); what was read is reported
            for msg in msgs:
                remaining -= 1
                yield common_pb2.EventEnvelope.FromString(msg.data)
                if msg.metadata and msg.metadata.num_pending == 0:
                    remaining = 0
    finally:
        await sub.unsubscribe()
