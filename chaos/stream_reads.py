"""What JetStream holds: every event message (by `Nats-Msg-Id`) and each durable consumer's
backlog, read with an ephemeral consumer that acks nothing and leaves the durables untouched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime.messaging.consumer import subject_filters
from runtime.messaging.streams import EVENTS_STREAM

_BATCH = 500


@dataclass
class StreamContents:
    ids: Counter[str] = field(default_factory=Counter)  # Nats-Msg-Id -> messages with it
    subjects: dict[str, str] = field(default_factory=dict)  # Nats-Msg-Id -> subject
    without_id: int = 0


async def read_stream(js: JetStreamContext) -> StreamContents:
    contents = StreamContents()
    sub = await js.pull_subscribe(
        "tamaru.evt.>",
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
                msgs = await sub.fetch(min(_BATCH, remaining), timeout=5.0)
            except (NatsTimeout, TimeoutError):
                break
            for msg in msgs:
                remaining -= 1
                event_id = (msg.headers or {}).get("Nats-Msg-Id")
                if event_id is None:
                    contents.without_id += 1
                else:
                    contents.ids[event_id] += 1
                    contents.subjects[event_id] = msg.subject
                if msg.metadata and msg.metadata.num_pending == 0:
                    remaining = 0
    finally:
        await sub.unsubscribe()
    return contents


async def durable_consumers(js: JetStreamContext) -> dict[str, tuple[int, list[str]]]:
    """durable name -> (messages not yet delivered or acknowledged, its subject filters)."""
    found: dict[str, tuple[int, list[str]]] = {}
    for info in await js.consumers_info(EVENTS_STREAM):
        config = info.config
        if not config.durable_name:
            continue
        filters = subject_filters(config)
        backlog = (info.num_pending or 0) + (info.num_ack_pending or 0)
        found[info.name] = (backlog, filters or ["tamaru.evt.>"])
    return found


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, `>` the rest."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)
