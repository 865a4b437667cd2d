"""Many outbox events in one statement, for bulk imports.

`UnitOfWork.emit` writes one row per call, a round trip each: 100,000 imported members would
mean 100,000 round trips. This writes the same rows (same envelope, subject and trace
headers) with one multi-row INSERT. The relay picks them up at its next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.message import Message
from opentelemetry import propagate
from sqlalchemy import insert

from runtime.db.plumbing import OutboxEvent
from runtime.db.unit_of_work import UnitOfWork, build_envelope, event_subject, new_id


async def emit_many(
    uow: UnitOfWork,
    program_id: str,
    event_type: str,
    events: Sequence[tuple[Message, str]],
    *,
    occurred_at: datetime,
) -> None:
    """`events`: (payload, aggregate id) pairs, all of one type."""
    if not events:
        return
    headers: dict[str, str] = {}
    propagate.inject(headers)
    subject = event_subject(program_id, uow.service, event_type)
    rows = []
    for payload, aggregate_id in events:
        event_id = new_id()
        envelope = build_envelope(
            event_id=event_id,
            program_id=program_id,
            service=uow.service,
            event_type=event_type,
            payload=payload,
            aggregate_id=aggregate_id,
            occurred_at=occurred_at,
        )
        rows.append(
            {
                "event_id": event_id,
                "program_id": program_id,
                "subject": subject,
                "envelope": envelope.SerializeToString(),
                "headers": headers,
                "attempts": 0,
            }
        )
    await uow.session.execute(insert(OutboxEvent), rows)
