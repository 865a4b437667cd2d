"""Which member IDs count as issued in a period (the service fee's basis).

An ID is issued in a period when the member was enrolled before the period ended and was not
closed (or merged away) before it began: enrolled and not closed at any time during the month.
Suspended members still hold an ID, so they count. The SQL in adapters/member_counts.py is
the same rule; tests check both agree.
"""

from __future__ import annotations

from datetime import datetime


def is_issued(
    enrolled_at: datetime | None, closed_at: datetime | None, start: datetime, end: datetime
) -> bool:
    if enrolled_at is None:  # a status change seen before the enrolment: not known yet
        return False
    return enrolled_at < end and (closed_at is None or closed_at >= start)


def member_at_end(enrolled_at: datetime | None, closed_at: datetime | None, end: datetime) -> bool:
    return enrolled_at is not None and enrolled_at < end and (closed_at is None or closed_at >= end)
