"""Billing periods: calendar months in the program's time zone, and the waiver's year window.

A period is written "YYYY-MM". Its bounds are instants (UTC) at local midnight of the first
day of the month and of the next month, so an event at 2026-04-30T15:00Z (00:00 on 1 May in
Tokyo) belongs to May for a Tokyo program and to April for a UTC one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from runtime.errors import InvalidArgument

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1970 <= self.year <= 9998):
            raise ValueError(f"not a billing period: {self.year}-{self.month}")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str, *, field: str = "period") -> Period:
        match = _PERIOD.fullmatch(text.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise InvalidArgument(
                f"{field} must be a month written YYYY-MM (e.g. 2026-04), not {text!r}",
                field=field,
            )
        year = int(match.group(1))
        if not 1970 <= year <= 9998:
            raise InvalidArgument(f"{field} year {year} is out of range", field=field)
        return cls(year, int(match.group(2)))

    @classmethod
    def containing(cls, instant: datetime, zone: tzinfo) -> Period:
        local = _aware(instant).astimezone(zone)
        return cls(local.year, local.month)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start(self, zone: tzinfo) -> datetime:
        """Local midnight of the first day, as a UTC instant."""
        return datetime.combine(self.first_day(), time(0), tzinfo=zone).astimezone(UTC)

    def end(self, zone: tzinfo) -> datetime:
        """The next period's start (exclusive end)."""
        return self.next().start(zone)

    def next(self) -> Period:
        return self.plus(1)

    def previous(self) -> Period:
        return self.plus(-1)

    def plus(self, months: int) -> Period:
        index = self.year * 12 + (self.month - 1) + months
        return Period(index // 12, index % 12 + 1)

    def months_until(self, other: Period) -> int:
        """How many periods from self to other (0 when equal, negative when other is earlier)."""
        return (other.year - self.year) * 12 + (other.month - self.month)


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from first to last, both included (empty when last < first)."""
    return [first.plus(i) for i in range(first.months_until(last) + 1)]


def anniversary(start: date, year: int) -> date:
    """The contract's anniversary in `year`; a 29 February start falls on 28 February."""
    try:
        return start.replace(year=year)
    except ValueError:
        return start.replace(year=year, day=28)


def waiver_window(
    period: Period, zone: tzinfo, window: str, contract_start: date
) -> tuple[datetime, datetime]:
    """The instants [start, end) whose grants decide the waiver of `period`'s fees.

    trailing12Months: the 12 periods ending with this one. contractYear: from the start of
    the contract year in force at the end of the period (the latest anniversary before the
    period's end, never before the contract started) to the period's end, i.e. year to date.
    """
    end = period.end(zone)
    if window == "trailing12Months":
        return period.plus(-11).start(zone), end
    if window != "contractYear":
        raise ValueError(f"unknown waiver window {window!r}")
    last_day = period.next().first_day().toordinal() - 1
    year = period.year
    candidate = anniversary(contract_start, year)
    if candidate.toordinal() > last_day:
        candidate = anniversary(contract_start, year - 1)
    candidate = max(candidate, contract_start)
    return datetime.combine(candidate, time(0), tzinfo=zone).astimezone(UTC), end


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("billing needs timezone-aware instants")
    return instant
