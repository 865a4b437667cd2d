"""Program config revisions kept for the rules: each generation with the time it took effect.

The config watcher's apply hook stores every generation it applies; scoring an event picks the
latest generation that took effect at or before the event's time (the earliest one for events
older than the program), so rule changes never rewrite how past events earn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import NotFound
from runtime.programs.record import ProgramRecord
from runtime.programs.spec import ProgramSpec, parse_spec
from services.earn.adapters.orm import RuleRevisionRow


@dataclass(frozen=True)
class RulesInForce:
    generation: int
    spec: ProgramSpec


async def store_revision(uow: UnitOfWork, record: ProgramRecord) -> None:
    """Apply hook: remember this generation (a replay of a known one changes nothing)."""
    await uow.session.execute(
        insert(RuleRevisionRow)
        .values(
            program_id=record.program_id,
            generation=record.generation,
            effective_from=record.published_at,
            spec=record.spec,
        )
        .on_conflict_do_nothing()
    )


class RevisionCache:
    """Parsed specs by (program, generation): a generation's spec never changes."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, int], ProgramSpec] = {}

    async def in_force(self, session: AsyncSession, program_id: str, at: datetime) -> RulesInForce:
        row = (
            await session.execute(
                select(RuleRevisionRow.generation, RuleRevisionRow.spec)
                .where(
                    RuleRevisionRow.program_id == program_id,
                    RuleRevisionRow.effective_from <= at,
                )
                .order_by(RuleRevisionRow.effective_from.desc(), RuleRevisionRow.generation.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            row = (
                await session.execute(
                    select(RuleRevisionRow.generation, RuleRevisionRow.spec)
                    .where(RuleRevisionRow.program_id == program_id)
                    .order_by(RuleRevisionRow.effective_from, RuleRevisionRow.generation)
                    .limit(1)
                )
            ).first()
        if row is None:
            raise NotFound(
                f"program {program_id!r} has no rules on this service yet",
                reason="PROGRAM_NOT_FOUND",
            )
        generation, document = int(row[0]), row[1]
        key = (program_id, generation)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = parse_spec(document, resource_name=program_id)
        return RulesInForce(generation, spec)
