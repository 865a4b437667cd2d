"""The inbox: remembers which events a consumer applied, in the same transaction as the effect,
so a redelivered or duplicated event takes effect once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.plumbing import InboxEvent


async def claim_event(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` sees `event_id` (in this transaction's view).

    A concurrent transaction claiming the same event blocks on the primary key until the first
    commits or rolls back, so two replicas never both apply it.
    """
    result = await session.execute(
        insert(InboxEvent)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(InboxEvent.event_id)
    )
    return result.scalar_one_or_none() is not None


async def claim_events(session: AsyncSession, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """`claim_event` for a batch in one statement: the ids `consumer` sees for the first time
    (an id listed twice is claimed once)."""
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    result = await session.execute(
        insert(InboxEvent)
        .values([{"consumer": consumer, "event_id": event_id} for event_id in unique])
        .on_conflict_do_nothing()
        .returning(InboxEvent.event_id)
    )
    return set(result.scalars().all())
