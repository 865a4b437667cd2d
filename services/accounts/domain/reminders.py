"""Expiry reminders: which accounts to tell that points expire soon. Pure: no I/O.

One reminder per account and expiry moment, covering every lot that expires then; a lot is
announced once (the caller remembers which lots it announced)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from services.accounts.domain.events import PointsExpiringSoon
from services.accounts.domain.model import Lot
from services.accounts.domain.validation import check_aware


def expiring_soon(
    program_id: str, lots: Iterable[Lot], now: datetime, within_days: int
) -> list[PointsExpiringSoon]:
    check_aware(now, "now")
    horizon = now + timedelta(days=within_days)
    groups: dict[tuple[str, datetime], list[Lot]] = defaultdict(list)
    for lot in lots:
        if lot.remaining > 0 and lot.expires_at is not None and now < lot.expires_at <= horizon:
            groups[(lot.account_id, lot.expires_at)].append(lot)
    reminders = []
    for (account_id, expires_at), group in sorted(groups.items()):
        by_kind: dict[str, int] = defaultdict(int)
        for lot in group:
            by_kind[lot.kind] += lot.remaining
        reminders.append(
            PointsExpiringSoon(
                program_id=program_id,
                account_id=account_id,
                amount=sum(lot.remaining for lot in group),
                expires_at=expires_at,
                by_kind=tuple(sorted(by_kind.items())),
                within_days=within_days,
                lot_ids=tuple(sorted(lot.lot_id for lot in group)),
            )
        )
    return reminders
