"""Expiry dates from the program's policy, computed on the local calendar of its time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runtime.errors import InvalidArgument
from services.accounts.domain.expiry_policy import (
    ExpiryPolicy,
    ExpiryRule,
    add_months,
    compute_expiry,
    expiry_for,
)

TOKYO = "Asia/Tokyo"


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # month end clamps
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year keeps Feb 29
        (date(2028, 2, 29), 12, date(2029, 2, 28)),  # leap day a year on
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # year rollover
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("policy", "earned_at", "tz", "last_day"),
    [
        # N months after earning: Jan 31 + 1 month is Feb 28 (not Mar 3).
        (ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 1), utc(2026, 1, 31, 3), "UTC", date(2026, 2, 28)),
        (ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 1), utc(2028, 1, 31, 3), "UTC", date(2028, 2, 29)),
        (ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 12), utc(2028, 2, 29), "UTC", date(2029, 2, 28)),
        (ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 6), utc(2026, 8, 31), "UTC", date(2027, 2, 28)),
        # End of month N months later.
        (
            ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 0),
            utc(2026, 2, 3),
            "UTC",
            date(2026, 2, 28),
        ),
        (
            ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 12),
            utc(2027, 2, 10),
            "UTC",
            date(2028, 2, 29),
        ),
        (
            ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 1),
            utc(2026, 1, 31),
            "UTC",
            date(2026, 2, 28),
        ),
        # N days after earning, across a leap day.
        (ExpiryPolicy(ExpiryRule.DAYS_AFTER, 1), utc(2028, 2, 28, 12), "UTC", date(2028, 2, 29)),
        (ExpiryPolicy(ExpiryRule.DAYS_AFTER, 2), utc(2028, 2, 28, 12), "UTC", date(2028, 3, 1)),
        # A campaign kind's fixed date, whenever it was earned.
        (
            ExpiryPolicy(ExpiryRule.FIXED_DATE, fixed_date=date(2026, 12, 31)),
            utc(2026, 5, 5),
            TOKYO,
            date(2026, 12, 31),
        ),
    ],
)
def test_lot_is_usable_through_its_last_local_day(
    policy: ExpiryPolicy, earned_at: datetime, tz: str, last_day: date
) -> None:
    expires_at = expiry_for(policy, earned_at, tz)
    assert expires_at == local_midnight_utc(last_day + timedelta(days=1), tz)
    assert expires_at is not None
    assert expires_at.tzinfo is not None


def test_end_of_month_follows_the_program_time_zone_not_utc() -> None:
    # 2026-03-31T16:00Z is 2026-04-01 01:00 in Tokyo: "end of this month" is April 30 there.
    earned = utc(2026, 3, 31, 16)
    policy = ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 0)
    in_tokyo = expiry_for(policy, earned, TOKYO)
    in_utc = expiry_for(policy, earned, "UTC")
    assert in_tokyo == utc(2026, 4, 30, 15)  # 2026-05-01T00:00+09:00
    assert in_utc == utc(2026, 4, 1)
    assert in_tokyo != in_utc


def test_months_after_counts_from_the_local_date() -> None:
    # Jan 31 16:00Z is Feb 1 in Tokyo: one month later is Mar 1 there, not Feb 28.
    policy = ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 1)
    assert expiry_for(policy, utc(2026, 1, 31, 16), TOKYO) == utc(2026, 3, 1, 15)
    assert expiry_for(policy, utc(2026, 1, 31, 16), "UTC") == utc(2026, 3, 1)


def test_expiry_at_a_dst_change_is_local_midnight() -> None:
    # New York leaves DST on 2026-11-01: midnight of Nov 2 is at 05:00Z (EST), not 04:00Z.
    policy = ExpiryPolicy(ExpiryRule.DAYS_AFTER, 1)
    assert expiry_for(policy, utc(2026, 10, 31, 20), "America/New_York") == utc(2026, 11, 2, 5)


def test_never_expires() -> None:
    assert expiry_for(ExpiryPolicy(ExpiryRule.NEVER), utc(2026, 1, 1), TOKYO) is None


def test_compute_expiry_picks_the_kind_policy() -> None:
    rules = {
        "normal": ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 12),
        "spring": ExpiryPolicy(ExpiryRule.FIXED_DATE, fixed_date=date(2026, 5, 31)),
    }
    earned = utc(2026, 4, 10)
    assert compute_expiry(rules, "normal", earned, TOKYO) == utc(2027, 4, 30, 15)
    assert compute_expiry(rules, "spring", earned, TOKYO) == utc(2026, 5, 31, 15)


def test_unknown_kind_names_the_field() -> None:
    rules = {"normal": ExpiryPolicy(ExpiryRule.NEVER)}
    with pytest.raises(InvalidArgument) as err:
        compute_expiry(rules, "winter", utc(2026, 1, 1), "UTC")
    assert (err.value.field, err.value.reason) == ("kind", "UNKNOWN_POINT_KIND")


def test_naive_earned_at_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        expiry_for(ExpiryPolicy(ExpiryRule.DAYS_AFTER, 3), datetime(2026, 1, 1), "UTC")
    assert err.value.field == "earned_at"


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        expiry_for(ExpiryPolicy(ExpiryRule.DAYS_AFTER, 3), utc(2026, 1, 1), "Mars/Olympus")
    assert err.value.field == "time_zone"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rule": ExpiryRule.FIXED_DATE}, "fixed_date"),
        ({"rule": ExpiryRule.DAYS_AFTER, "n": 0}, "n"),
        ({"rule": ExpiryRule.MONTHS_AFTER, "n": 5000}, "n"),
        ({"rule": ExpiryRule.END_OF_MONTH_AFTER, "n": -1}, "n"),
        ({"rule": ExpiryRule.NEVER, "fixed_date": date(2026, 1, 1)}, "rule"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        ExpiryPolicy(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
