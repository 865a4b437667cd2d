"""Expiry reminders group an account's lots by expiry moment, inside the horizon only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.accounts.domain.model import Lot
from services.accounts.domain.reminders import expiring_soon

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def lot(
    lot_id: str, account: str, remaining: int, expires_in_days: float | None, kind: str = "normal"
) -> Lot:
    expires = None if expires_in_days is None else NOW + timedelta(days=expires_in_days)
    return Lot(lot_id, account, kind, 100, remaining, NOW - timedelta(days=300), expires)


def test_groups_by_account_and_moment_within_the_horizon() -> None:
    lots = [
        lot("a1", "A", 10, 5),
        lot("a2", "A", 7, 5, kind="campaign"),
        lot("a3", "A", 4, 20),
        lot("a4", "A", 9, 31),  # beyond 30 days
        lot("a5", "A", 0, 5),  # nothing left
        lot("a6", "A", 3, -1),  # already expired: the sweeper's business
        lot("b1", "B", 6, None),  # never expires
        lot("b2", "B", 8, 29.9),
    ]
    reminders = expiring_soon("p", lots, NOW, 30)
    summary = [(r.account_id, r.amount, r.by_kind, r.lot_ids) for r in reminders]
    assert summary == [
        ("A", 17, (("campaign", 7), ("normal", 10)), ("a1", "a2")),
        ("A", 4, (("normal", 4),), ("a3",)),
        ("B", 8, (("normal", 8),), ("b2",)),
    ]
    assert {r.within_days for r in reminders} == {30}


def test_nothing_expiring_means_no_reminder() -> None:
    assert expiring_soon("p", [lot("x", "A", 5, None), lot("y", "A", 5, 60)], NOW, 30) == []
