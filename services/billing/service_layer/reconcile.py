"""Reconciliation: billing's charges against the sponsor-funded points in accounts' event
stream, period by period (the period of each event's occurred_at in the program's zone).

Billing may not read accounts' tables, so the proof is against the stream itself: every
`points_credited` with sponsor_funded adds its amount, every `transaction_reversed` with
sponsor_funded subtracts its clawed-back points. Periods older than the stream's retention
are reported as partial. Accounts' own invariants are proved by its Verify RPC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext

from runtime.programs.spec import ProgramSpec
from services.billing.adapters.repository import BillingRepository
from services.billing.adapters.stream_replay import replay
from services.billing.domain.periods import Period
from services.billing.domain.reconciliation import ReconciledPeriod, Tally, reconcile
from tamaru.accounts.v1 import events_pb2

SUBJECTS = ("points_credited", "transaction_reversed")


async def stream_tallies(
    js: JetStreamContext, program_id: str, spec: ProgramSpec
) -> tuple[dict[Period, Tally], datetime | None]:
    tallies: dict[Period, Tally] = {}
    seen: set[str] = set()  # the stream may hold an event twice beyond its dedupe window
    oldest: datetime | None = None
    for event_type in SUBJECTS:
        async for envelope in replay(js, f"tamaru.evt.{program_id}.accounts.{event_type}"):
            at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
            oldest = at if oldest is None or at < oldest else oldest
            if envelope.event_id in seen or envelope.program_id != program_id:
                continue
            seen.add(envelope.event_id)
            points = _sponsor_points(envelope.event_type, envelope.payload)
            if points is None:
                continue
            period = Period.containing(at, spec.zone)
            tallies[period] = tallies.get(period, Tally()).add(points)
    return tallies, oldest


def _sponsor_points(event_type: str, payload: bytes) -> int | None:
    if event_type == "points_credited":
        credit = events_pb2.PointsCredited.FromString(payload)
        return credit.amount if credit.sponsor_funded else None
    reversal = events_pb2.TransactionReversed.FromString(payload)
    if reversal.sponsor_funded and reversal.result.clawed_back:
        return -reversal.result.clawed_back
    return None


async def reconcile_program(
    js: JetStreamContext,
    repo: BillingRepository,
    spec: ProgramSpec,
    *,
    first: Period | None,
    last: Period | None,
    stream_truncated: bool,
) -> tuple[list[ReconciledPeriod], datetime | None]:
    """`stream_truncated`: retention has removed events from the stream. Then only periods
    after the one of the program's oldest retained event are comparable."""
    stream, oldest = await stream_tallies(js, repo.program_id, spec)
    billed = await repo.billed_by_occurred_period()
    first_complete = None
    if stream_truncated:
        cut = oldest or datetime.now(UTC)
        first_complete = Period.containing(cut, spec.zone).next()
    rows = reconcile(stream, billed, first_complete=first_complete, first=first, last=last)
    return rows, oldest
