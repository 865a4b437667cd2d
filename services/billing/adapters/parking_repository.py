"""Billing's parked events (`billing_parked_events`): stored, counted, taken back in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import ParkedEventRow

UNCONFIGURED = "unconfigured"  # the program has no config on billing yet: replayed later
POISON = "poison"  # kept failing: kept for an operator, never replayed by itself


@dataclass(frozen=True)
class RawEvent:
    """An event as it came from the stream."""

    durable: str
    stream_seq: int
    program_id: str
    event_id: str
    subject: str
    envelope: bytes
    headers: dict[str, str]


class ParkingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def park(self, event: RawEvent, reason: str, error: str = "") -> None:
        stmt = insert(ParkedEventRow).values(
            durable=event.durable,
            stream_seq=event.stream_seq,
            program_id=event.program_id,
            event_id=event.event_id,
            subject=event.subject,
            envelope=event.envelope,
            headers=event.headers,
            reason=reason,
            error=error[:2000],
        )
        # A redelivery of an event already parked (acked, but the ack was lost) adds nothing.
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def waiting(self, program_id: str) -> int:
        """How many of the program's events wait for its config."""
        count = await self.session.scalar(
            select(func.count()).where(
                ParkedEventRow.program_id == program_id, ParkedEventRow.reason == UNCONFIGURED
            )
        )
        return int(count or 0)

    async def take(self, program_id: str, limit: int) -> Sequence[ParkedEventRow]:
        """The program's oldest waiting events, in stream order, locked: a replica replaying
        the same program at the same time waits, then finds them gone."""
        rows = await self.session.scalars(
            select(ParkedEventRow)
            .where(ParkedEventRow.program_id == program_id, ParkedEventRow.reason == UNCONFIGURED)
            .order_by(ParkedEventRow.stream_seq, ParkedEventRow.durable)
            .limit(limit)
            .with_for_update()
        )
        return rows.all()

    async def remove(self, row: ParkedEventRow) -> None:
        await self.session.execute(
            delete(ParkedEventRow).where(
                ParkedEventRow.durable == row.durable,
                ParkedEventRow.stream_seq == row.stream_seq,
            )
        )

    async def poisoned(self, row: ParkedEventRow, error: str) -> None:
        await self.session.execute(
            update(ParkedEventRow)
            .where(
                ParkedEventRow.durable == row.durable,
                ParkedEventRow.stream_seq == row.stream_seq,
            )
            .values(reason=POISON, error=error[:2000])
        )

    async def programs_waiting(self) -> list[str]:
        rows = await self.session.scalars(
            select(ParkedEventRow.program_id)
            .where(ParkedEventRow.reason == UNCONFIGURED)
            .distinct()
        )
        return list(rows.all())

    async def sizes(self) -> dict[str, int]:
        """Parked events by reason (the operators' gauge)."""
        rows = await self.session.execute(
            select(ParkedEventRow.reason, func.count()).group_by(ParkedEventRow.reason)
        )
        sizes = {UNCONFIGURED: 0, POISON: 0}
        sizes.update({reason: int(n) for reason, n in rows.all()})
        return sizes
