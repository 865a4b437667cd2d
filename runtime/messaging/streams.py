"""The JetStream stream and key-value buckets Tamaru declares (idempotently, at start)."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

EVENTS_STREAM = "TAMARU_EVENTS"
EVENTS_SUBJECTS = ["tamaru.evt.>"]
PROGRAMS_BUCKET = "tamaru_programs"
STATUS_BUCKET = "tamaru_program_status"

DAY = 24 * 3600
# Consumers are durable; a week covers a long outage of any consumer. An event older than
# this can no longer be redelivered, so inboxes need not remember it (runtime/retention.py).
EVENTS_MAX_AGE = 7 * DAY


def events_stream_config() -> StreamConfig:
    return StreamConfig(
        name=EVENTS_STREAM,
        subjects=EVENTS_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=EVENTS_MAX_AGE,
        # The relay re-publishes rows whose "sent" mark did not commit; JetStream drops those
        # duplicates by Nats-Msg-Id within this window (consumers dedupe beyond it).
        duplicate_window=600,
    )


async def ensure_events_stream(js: JetStreamContext) -> None:
    config = events_stream_config()
    try:
        await js.stream_info(EVENTS_STREAM)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def ensure_bucket(js: JetStreamContext, bucket: str, *, history: int = 5) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(
            KeyValueConfig(bucket=bucket, history=history, storage=StorageType.FILE)
        )
