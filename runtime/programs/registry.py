"""The programs a service knows, as parsed specs, kept current by the config watcher.

Services read a program's settings (time zone, expiry policy, rules) from here instead of the
database on every request, and refuse new activity for closed programs.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import FailedPrecondition, NotFound
from runtime.programs.record import ProgramRecord
from runtime.programs.spec import ProgramSpec, parse_spec


@dataclass(frozen=True)
class KnownProgram:
    program_id: str
    generation: int
    spec: ProgramSpec
    closed: bool


class ProgramRegistry:
    def __init__(self) -> None:
        self._programs: dict[str, KnownProgram] = {}

    def update(self, record: ProgramRecord) -> KnownProgram:
        known = KnownProgram(
            program_id=record.program_id,
            generation=record.generation,
            spec=parse_spec(record.spec, resource_name=record.program_id),
            closed=record.closed,
        )
        self._programs[record.program_id] = known
        return known

    def all(self) -> list[KnownProgram]:
        return list(self._programs.values())

    def get(self, program_id: str) -> KnownProgram:
        try:
            return self._programs[program_id]
        except KeyError:
            raise NotFound(
                f"program {program_id!r} is not configured on this service yet",
                reason="PROGRAM_NOT_FOUND",
            ) from None

    def spec(self, program_id: str) -> ProgramSpec:
        return self.get(program_id).spec

    def require_open(self, program_id: str) -> ProgramSpec:
        """The program's spec, or FAILED_PRECONDITION when it is closed to new activity."""
        known = self.get(program_id)
        if known.closed:
            raise FailedPrecondition(
                f"program {program_id!r} is closed: it keeps its data but accepts no new activity",
                reason="PROGRAM_CLOSED",
            )
        return known.spec
