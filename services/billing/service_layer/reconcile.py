"""Reconciliation: billing's charges against the sponsor-funded points in accounts' journal,
period by period (the period of each transaction's occurred_at in the program's zone).

Billing may not read accounts' tables, so it asks accounts for the journal's totals per
period (GetSponsorFundedTotals: credits, and clawbacks counted by the points they took back),
which covers any age. As a second check while events are retained, it replays the stream:
every `points_credited` with sponsor_funded adds its amount, every `transaction_reversed`
with sponsor_funded subtracts its clawed-back points; periods older than the stream's
retention are partial for that check only. Accounts' own invariants are proved by Verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext

from runtime.programs.spec import ProgramSpec
from services.billing.adapters.ledger_totals import LedgerTotals
from services.billing.adapters.repository import BillingRepository
from services.billing.adapters.stream_replay import replay
from services.billing.domain.periods import Period, periods_between
from services.billing.domain.reconciliation import (
    LedgerTally,
    ReconciledPeriod,
    Tally,
    periods_to_check,
    reconcile,
)
from services.billing.service_layer.drafts import current_period
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


@dataclass(frozen=True)
class Reconciliation:
    rows: list[ReconciledPeriod]
    stream_starts_at: datetime | None  # the program's oldest event the stream still holds
    ledger_starts_at: datetime | None  # the program's first sponsor-funded journal entry


async def reconcile_program(
    js: JetStreamContext,
    ledger: LedgerTotals,
    repo: BillingRepository,
    spec: ProgramSpec,
    *,
    first: Period | None,
    last: Period | None,
    stream_truncated: bool,
) -> Reconciliation:
    """`stream_truncated`: retention has removed events from the stream. Then only periods
    after the one of the program's oldest retained event are comparable with the stream."""
    stream, oldest = await stream_tallies(js, repo.program_id, spec)
    billed = await repo.billed_by_occurred_period()
    ledger_start = await ledger.first_occurred_at()
    known = [*stream, *billed]
    if ledger_start is not None:
        known.append(Period.containing(ledger_start, spec.zone))
    now = current_period(spec, datetime.now(UTC))
    span = periods_to_check(first, min(last or now, now), known)
    totals: dict[Period, LedgerTally] = {}
    if span is not None:
        totals = await ledger.by_period(periods_between(*span), spec.zone)
    first_complete = None
    if stream_truncated:
        cut = oldest or datetime.now(UTC)
        first_complete = Period.containing(cut, spec.zone).next()
    rows = reconcile(stream, billed, totals, first_complete=first_complete, first=first, last=last)
    return Reconciliation(rows, oldest, ledger_start)
