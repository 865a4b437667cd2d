"""Months in the program's time zone, and the waiver's year window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from runtime.errors import InvalidArgument
from services.billing.domain.members import is_issued, member_at_end
from services.billing.domain.periods import Period, periods_between, waiver_window

TOKYO = ZoneInfo("Asia/Tokyo")


def test_month_boundary_is_midnight_in_tokyo() -> None:
    # 2026-04-30T15:00Z is 2026-05-01 00:00 in Tokyo.
    last_april = datetime(2026, 4, 30, 14, 59, 59, 999999, tzinfo=UTC)
    first_may = datetime(2026, 4, 30, 15, 0, tzinfo=UTC)
    assert Period.containing(last_april, TOKYO) == Period(2026, 4)
    assert Period.containing(first_may, TOKYO) == Period(2026, 5)
    assert Period.containing(first_may, ZoneInfo("UTC")) == Period(2026, 4)


def test_period_bounds_are_local_midnights() -> None:
    may = Period(2026, 5)
    assert may.start(TOKYO) == datetime(2026, 4, 30, 15, tzinfo=UTC)
    assert may.end(TOKYO) == datetime(2026, 5, 31, 15, tzinfo=UTC)
    december = Period(2026, 12)
    assert december.next() == Period(2027, 1)
    assert Period(2027, 1).previous() == december


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-04", "2026/04", "", "april"])
def test_bad_period_names_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Period.parse(text, field="to_period")
    assert caught.value.field == "to_period"


def test_periods_between() -> None:
    assert [str(p) for p in periods_between(Period(2025, 11), Period(2026, 2))] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert periods_between(Period(2026, 2), Period(2026, 1)) == []


def test_trailing_twelve_months_window() -> None:
    start, end = waiver_window(Period(2026, 3), TOKYO, "trailing12Months", date(2020, 1, 1))
    assert start == Period(2025, 4).start(TOKYO)
    assert end == Period(2026, 3).end(TOKYO)


def test_contract_year_window_runs_from_the_latest_anniversary() -> None:
    start_day = date(2025, 4, 15)
    # March 2026 is in the contract year that began on 2025-04-15.
    start, _ = waiver_window(Period(2026, 3), TOKYO, "contractYear", start_day)
    assert start == datetime(2025, 4, 14, 15, tzinfo=UTC)
    # By the end of April 2026 the new contract year (2026-04-15) is in force.
    start, end = waiver_window(Period(2026, 4), TOKYO, "contractYear", start_day)
    assert start == datetime(2026, 4, 14, 15, tzinfo=UTC)
    assert end == Period(2026, 4).end(TOKYO)
    # Never before the contract began.
    start, _ = waiver_window(Period(2025, 4), TOKYO, "contractYear", start_day)
    assert start == datetime(2025, 4, 14, 15, tzinfo=UTC)


def test_leap_day_contract_start() -> None:
    start, _ = waiver_window(Period(2025, 3), TOKYO, "contractYear", date(2024, 2, 29))
    assert start == datetime(2025, 2, 27, 15, tzinfo=UTC)  # 2025-02-28 in Tokyo


def test_issued_means_enrolled_and_not_closed_at_any_time_in_the_month() -> None:
    april = Period(2026, 4)
    start, end = april.start(TOKYO), april.end(TOKYO)
    before = datetime(2026, 3, 1, tzinfo=UTC)
    inside = datetime(2026, 4, 10, tzinfo=UTC)
    after = datetime(2026, 5, 10, tzinfo=UTC)
    assert is_issued(before, None, start, end)
    assert is_issued(inside, None, start, end)
    assert is_issued(before, inside, start, end)  # closed during April: still issued
    assert is_issued(before, start, start, end)  # closed at April's first instant
    assert not is_issued(before, before, start, end)  # closed before April
    assert not is_issued(after, None, start, end)  # enrolled later
    assert not is_issued(end, None, start, end)  # enrolled at May's first instant
    assert not is_issued(None, None, start, end)  # only a status change seen so far
    assert member_at_end(before, None, end)
    assert not member_at_end(before, inside, end)
