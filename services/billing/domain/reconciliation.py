"""Compare billing's charges with the ledger's journal and the event stream, period by period.

The ledger (accounts' journal, read through its GetSponsorFundedTotals command) is the
authority and keeps every period; the stream only holds recent events, so it is a second
check where it still has a whole period, and tells where points went missing when billing
and the ledger disagree (lost before the stream: the stream agrees with billing; lost by
billing: the stream agrees with the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.billing.domain.periods import Period


@dataclass(frozen=True)
class Tally:
    points: int = 0
    events: int = 0

    def add(self, points: int) -> Tally:
        return Tally(self.points + points, self.events + 1)


@dataclass(frozen=True)
class LedgerTally:
    """One period of the journal: sponsor-funded credits, and clawbacks of them that took
    points (`clawed_back` is the points taken, positive)."""

    credited: int = 0
    credits: int = 0
    clawed_back: int = 0
    clawbacks: int = 0

    @property
    def net(self) -> Tally:
        """As billing charges: one charge per credit and per clawback, net points."""
        return Tally(self.credited - self.clawed_back, self.credits + self.clawbacks)


@dataclass(frozen=True)
class ReconciledPeriod:
    period: Period
    stream: Tally
    billed: Tally
    partial: bool
    ledger: LedgerTally = LedgerTally()

    @property
    def difference(self) -> int:
        """Billed minus ledger points: positive when billing charged more than happened."""
        return self.billed.points - self.ledger.net.points

    @property
    def consistent(self) -> bool:
        return self.ledger.net == self.billed and (self.partial or self.stream == self.billed)


def reconcile(
    stream: dict[Period, Tally],
    billed: dict[Period, Tally],
    ledger: dict[Period, LedgerTally],
    *,
    first_complete: Period | None,
    first: Period | None = None,
    last: Period | None = None,
) -> list[ReconciledPeriod]:
    """One row per period any side knows (within [first, last]); a period none of them has
    anything for agrees trivially and is left out.

    Periods before `first_complete` (the stream's retention began inside or after them) are
    marked partial: the stream cannot prove or disprove them, the ledger still does.
    """
    known = {p for p, t in ledger.items() if t != LedgerTally()} | set(stream) | set(billed)
    rows = []
    for period in sorted(known):
        if (first and period < first) or (last and period > last):
            continue
        partial = first_complete is not None and period < first_complete
        rows.append(
            ReconciledPeriod(
                period,
                stream.get(period, Tally()),
                billed.get(period, Tally()),
                partial,
                ledger.get(period, LedgerTally()),
            )
        )
    return rows


def periods_to_check(
    first: Period | None, last: Period, known: list[Period]
) -> tuple[Period, Period] | None:
    """The range to ask the ledger about: [first or the earliest period any side knows,
    last]; None when there is nothing (no bound and no side knows a period)."""
    start = first or min(known, default=None)
    if start is None or start > last:
        return None
    return start, last
