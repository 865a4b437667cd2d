"""Calendar questions in the program's time zone: weekdays, hours, days, weeks and months."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Period = Literal["day", "week", "month"]


def local(at: datetime, zone: ZoneInfo) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(zone)


def weekday(at: datetime, zone: ZoneInfo) -> str:
    return WEEKDAYS[local(at, zone).weekday()]


def in_hours(at: datetime, zone: ZoneInfo, from_hour: int, to_hour: int) -> bool:
    """from (inclusive) to (exclusive); a range like 22-2 runs over midnight."""
    hour = local(at, zone).hour
    if from_hour < to_hour:
        return from_hour <= hour < to_hour
    return hour >= from_hour or hour < to_hour


def period_start(at: datetime, zone: ZoneInfo, per: Period) -> datetime:
    """Start (aware, in `zone`) of the calendar day, week (from Monday) or month holding `at`."""
    day = local(at, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if per == "week":
        day -= timedelta(days=day.weekday())
    elif per == "month":
        day = day.replace(day=1)
    # Re-attach the zone so a DST change inside the period gives the right offset.
    return day.replace(tzinfo=zone)


def period_end(at: datetime, zone: ZoneInfo, per: Period) -> datetime:
    start = period_start(at, zone, per)
    if per == "day":
        naive = start.replace(tzinfo=None) + timedelta(days=1)
    elif per == "week":
        naive = start.replace(tzinfo=None) + timedelta(days=7)
    else:
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        naive = start.replace(tzinfo=None, year=year, month=month)
    return naive.replace(tzinfo=zone)


def month_key(at: datetime, zone: ZoneInfo) -> str:
    """'YYYY-MM' of `at` in the program's time zone (thanks allowances reset on it)."""
    return local(at, zone).strftime("%Y-%m")
