"""Program config revisions kept for the rules: each generation with the time it took effect.

The config watcher's apply hook stores every generation it applies; scoring an event picks the
latest generation that took effect at or before the event's time (the earliest one for events
older than the program), so rule changes never rewrite how past events earn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import fetch_all
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


_TABLE = RuleRevisionRow.__tablename__
# Each event time's generation, in one statement however many times: the latest that took
# effect at or before it; for a time before the program, its first one (NULL: the program has
# no revision at all).
_IN_FORCE = (
    f"SELECT coalesce((SELECT generation FROM {_TABLE} WHERE program_id = %(p)s "
    "AND effective_from <= t.at ORDER BY effective_from DESC, generation DESC LIMIT 1), "
    f"(SELECT generation FROM {_TABLE} WHERE program_id = %(p)s "
    "ORDER BY effective_from, generation LIMIT 1)) "
    "FROM unnest(%(ats)b::timestamptz[]) WITH ORDINALITY AS t(at, i) ORDER BY t.i"
)
_SPEC = f"SELECT spec FROM {_TABLE} WHERE program_id = %(p)s AND generation = %(g)s"


class RevisionCache:
    """Parsed specs by (program, generation): a generation's spec never changes."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, int], ProgramSpec] = {}

    async def in_force(self, session: AsyncSession, program_id: str, at: datetime) -> RulesInForce:
        """Every event asks this, so it reads only the generation number (a fixed statement,
        runtime/db/driver.py) and the spec document only the first time."""
        (rules,) = await self.in_force_many(session, program_id, [at])
        return rules

    async def in_force_many(
        self, session: AsyncSession, program_id: str, ats: Sequence[datetime]
    ) -> list[RulesInForce]:
        """`in_force` for each of a chunk's event times."""
        distinct = sorted(set(ats))
        if not distinct:
            return []
        rows = await fetch_all(session, _IN_FORCE, {"p": program_id, "ats": distinct})
        generations = {at: generation for at, (generation,) in zip(distinct, rows, strict=True)}
        if any(g is None for g in generations.values()):
            raise NotFound(
                f"program {program_id!r} has no rules on this service yet",
                reason="PROGRAM_NOT_FOUND",
            )
        rules = {
            g: await self._rules(session, program_id, int(g)) for g in set(generations.values())
        }
        return [rules[generations[at]] for at in ats]

    async def _rules(self, session: AsyncSession, program_id: str, generation: int) -> RulesInForce:
        key = (program_id, generation)
        spec = self._specs.get(key)
        if spec is None:
            ((document,),) = await fetch_all(session, _SPEC, {"p": program_id, "g": generation})
            spec = self._specs[key] = parse_spec(document, resource_name=program_id)
        return RulesInForce(generation, spec)
