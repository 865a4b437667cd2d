"""When a lot expires, from the program's expiry policy, in the program's time zone.

Calendar rules are applied to the *local* date of earning: an earn at 2026-03-31T16:00Z is
2026-04-01 in Asia/Tokyo. A lot stays usable through its last local day: `expires_at` is the
first instant (UTC) of the following local day, the moment it stops being spendable.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime.errors import InvalidArgument
from services.accounts.domain.validation import check_aware

MAX_MONTHS = 1200
MAX_DAYS = 36600


class ExpiryRule(StrEnum):
    NEVER = "never"
    MONTHS_AFTER = "months_after"  # the same day N months after earning (clamped to month end)
    END_OF_MONTH_AFTER = "end_of_month_after"  # the last day of the month N months later
    FIXED_DATE = "fixed_date"  # a campaign kind: a date fixed in advance
    DAYS_AFTER = "days_after"  # N days after the day of earning


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    rule: ExpiryRule
    n: int = 0
    fixed_date: date | None = None

    def __post_init__(self) -> None:
        if self.rule is ExpiryRule.FIXED_DATE:
            if self.fixed_date is None:
                raise InvalidArgument("a fixed_date rule needs fixed_date", field="fixed_date")
            return
        if self.fixed_date is not None:
            raise InvalidArgument("fixed_date only goes with the fixed_date rule", field="rule")
        limit = MAX_DAYS if self.rule is ExpiryRule.DAYS_AFTER else MAX_MONTHS
        lowest = 1 if self.rule in (ExpiryRule.MONTHS_AFTER, ExpiryRule.DAYS_AFTER) else 0
        if self.rule is not ExpiryRule.NEVER and not lowest <= self.n <= limit:
            raise InvalidArgument(
                f"n must be between {lowest} and {limit} for {self.rule.value}", field="n"
            )


NEVER_EXPIRES = ExpiryPolicy(ExpiryRule.NEVER)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument(f"unknown time zone {name!r}", field="time_zone") from exc


def zone(tz: str | tzinfo) -> tzinfo:
    return _zone(tz) if isinstance(tz, str) else tz


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months; a day past the target month's end becomes its end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def start_of_local_day(day: date, tz: str | tzinfo) -> datetime:
    """The first instant (UTC) of `day` in `tz`. Where midnight is skipped by a DST jump,
    zoneinfo's fold=0 maps it to the first instant that exists."""
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def local_date(at_utc: datetime, tz: str | tzinfo) -> date:
    return at_utc.astimezone(zone(tz)).date()


def last_valid_day(policy: ExpiryPolicy, earned_on: date) -> date | None:
    """The last local day on which points earned on `earned_on` can be spent."""
    match policy.rule:
        case ExpiryRule.NEVER:
            return None
        case ExpiryRule.MONTHS_AFTER:
            return add_months(earned_on, policy.n)
        case ExpiryRule.END_OF_MONTH_AFTER:
            return end_of_month(add_months(earned_on.replace(day=1), policy.n))
        case ExpiryRule.FIXED_DATE:
            assert policy.fixed_date is not None  # __post_init__ guarantees it
            return policy.fixed_date
        case ExpiryRule.DAYS_AFTER:
            return earned_on + timedelta(days=policy.n)


def expiry_for(policy: ExpiryPolicy, earned_at_utc: datetime, tz: str | tzinfo) -> datetime | None:
    check_aware(earned_at_utc, "earned_at")
    return _expiry_for_local_day(policy, local_date(earned_at_utc, tz), tz)


# Batch credits earn thousands of lots on the same local day: compute each answer once.
@lru_cache(maxsize=4096)
def _expiry_for_local_day(
    policy: ExpiryPolicy, earned_on: date, tz: str | tzinfo
) -> datetime | None:
    last_day = last_valid_day(policy, earned_on)
    if last_day is None:
        return None
    return start_of_local_day(last_day + timedelta(days=1), tz)


def compute_expiry(
    rules: Mapping[str, ExpiryPolicy], kind: str, earned_at_utc: datetime, tz: str | tzinfo
) -> datetime | None:
    """When a lot of `kind` earned at `earned_at_utc` expires (UTC), or None if never."""
    policy = rules.get(kind)
    if policy is None:
        raise InvalidArgument(
            f"unknown point kind {kind!r}; the program defines {sorted(rules)}",
            reason="UNKNOWN_POINT_KIND",
            field="kind",
        )
    return expiry_for(policy, earned_at_utc, tz)
