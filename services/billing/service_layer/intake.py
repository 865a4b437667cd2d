"""Taking events in: a batch of a feed's events in one transaction, events of programs billing
has no config for yet parked (not retried), and parked events replayed once the config is here.

Exactly-once: every applied event is claimed in the inbox in the transaction that applies it,
whether it comes from the stream or from the parking table, so a redelivery, a duplicate copy
or a replay of an event already applied changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from runtime.db.unit_of_work import UnitOfWork, is_retryable
from runtime.messaging.inbox import claim_event, claim_events
from runtime.programs.spec import ProgramSpec
from services.billing.adapters.parking_repository import (
    POISON,
    UNCONFIGURED,
    ParkingRepository,
    RawEvent,
)
from services.billing.service_layer.drafts import PendingRecomputes
from services.billing.service_layer.events import Batch
from services.billing.service_layer.feeds import FEEDS, Feed
from tamaru.common.v1 import common_pb2

log = logging.getLogger(__name__)

# Events parked per program while its config is missing. Beyond it the consumer falls back to
# redelivery (nak with a long delay): nothing is lost, and a program whose config never comes
# cannot fill the database. 50,000 raw events are some 15 MB.
PARK_LIMIT_PER_PROGRAM = 50_000
REPLAY_CHUNK = 1_000

SpecLookup = Callable[[str], ProgramSpec | None]
Received = tuple[RawEvent, common_pb2.EventEnvelope]


async def apply_events(
    uow: UnitOfWork, feed: Feed, events: Sequence[Received], spec_of: SpecLookup
) -> list[bool]:
    """Applies a batch of the feed's events in stream order: the inbox claims in one statement,
    counters and activity summed and written once, each program's drafts recomputed once, at
    the end. Returns, per event, whether it is settled (applied, a duplicate, not billing's
    concern, or parked) or must come again later (its program's parking is full)."""
    parking = ParkingRepository(uow.session)
    specs = {envelope.program_id: spec_of(envelope.program_id) for _, envelope in events}

    def waits(envelope: common_pb2.EventEnvelope) -> bool:
        return feed.applier.handles(envelope) and specs[envelope.program_id] is None

    # Every event is claimed (an event billing does not count is "applied" by doing nothing),
    # except those parked: their claim comes when they are replayed.
    claimed = await claim_events(
        uow.session, feed.durable, [e.event_id for _, e in events if not waits(e)]
    )
    batch = Batch()
    room: dict[str, int] = {}
    settled: list[bool] = []
    for raw, envelope in events:
        spec = specs[envelope.program_id]
        if waits(envelope):
            settled.append(await _park_waiting(parking, raw, room))
            continue
        if spec is not None and envelope.event_id in claimed:
            claimed.discard(envelope.event_id)  # a second copy in the same batch: applied once
            await feed.applier.apply(uow, envelope, spec, batch)
        settled.append(True)
    await batch.flush(uow)
    return settled


async def _park_waiting(parking: ParkingRepository, raw: RawEvent, room: dict[str, int]) -> bool:
    if raw.program_id not in room:
        room[raw.program_id] = PARK_LIMIT_PER_PROGRAM - await parking.waiting(raw.program_id)
    if room[raw.program_id] <= 0:
        return False
    await parking.park(raw, UNCONFIGURED)
    room[raw.program_id] -= 1
    return True


async def park_poison(uow: UnitOfWork, raw: RawEvent, error: str) -> None:
    """An event that kept failing, kept with its error for an operator instead of blocking
    its feed (or being retried forever)."""
    await ParkingRepository(uow.session).park(raw, POISON, error)


async def replay_parked(
    uow: UnitOfWork, program_id: str, spec: ProgramSpec, limit: int = REPLAY_CHUNK
) -> int:
    """Applies up to `limit` of the program's parked events, oldest first, through the same
    handlers as the consumers. An event that fails is parked as poison with its error (in a
    savepoint, so it undoes nothing else). Returns how many were taken."""
    parking = ParkingRepository(uow.session)
    drafts = PendingRecomputes()  # recomputed once at the end; each event's writes in its savepoint
    rows = await parking.take(program_id, limit)
    for row in rows:
        batch = Batch(drafts=drafts)
        try:
            async with uow.session.begin_nested():
                feed = FEEDS[row.durable]
                envelope = common_pb2.EventEnvelope.FromString(row.envelope)
                if await claim_event(uow.session, feed.durable, envelope.event_id):
                    await feed.applier.apply(uow, envelope, spec, batch)
                    await batch.writes.flush(uow.session)
        except Exception as exc:
            if is_retryable(exc):
                raise  # the whole transaction runs again
            log.exception("parked event %s of %s failed on replay", row.event_id, program_id)
            drafts.forget_rows()
            await parking.poisoned(row, f"{type(exc).__name__}: {exc}")
            continue
        await parking.remove(row)
    await drafts.flush()
    return len(rows)


async def replay_all_parked(uow: UnitOfWork, program_id: str, spec: ProgramSpec) -> int:
    """Every parked event of the program (at most PARK_LIMIT_PER_PROGRAM of them)."""
    total = 0
    while taken := await replay_parked(uow, program_id, spec):
        total += taken
        if taken < REPLAY_CHUNK:
            break
    return total
