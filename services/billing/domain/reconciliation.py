"""Compare billing's charges with the event stream, period by period."""

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
class ReconciledPeriod:
    period: Period
    stream: Tally
    billed: Tally
    partial: bool

    @property
    def consistent(self) -> bool:
        return self.partial or self.stream == self.billed


def reconcile(
    stream: dict[Period, Tally],
    billed: dict[Period, Tally],
    *,
    first_complete: Period | None,
    first: Period | None = None,
    last: Period | None = None,
) -> list[ReconciledPeriod]:
    """One row per period either side knows (within [first, last]).

    Periods before `first_complete` (the stream's retention began inside or after them) are
    marked partial: the stream cannot prove or disprove them.
    """
    periods = sorted(set(stream) | set(billed))
    rows = []
    for period in periods:
        if (first and period < first) or (last and period > last):
            continue
        partial = first_complete is not None and period < first_complete
        rows.append(
            ReconciledPeriod(
                period, stream.get(period, Tally()), billed.get(period, Tally()), partial
            )
        )
    return rows
