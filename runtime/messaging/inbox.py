"""The inbox: remembers which events a consumer applied, in the same transaction as the effect,
so a redelivered or duplicated event takes effect once."""

from __future__ import annotations

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
