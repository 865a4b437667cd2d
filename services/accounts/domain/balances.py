"""What a member sees: the balance as of now, and what expires soon."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from runtime.errors import InvalidArgument
from services.accounts.domain.model import Hold, HoldStatus, Lot
from services.accounts.domain.validation import check_aware

MAX_EXPIRING_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Balance:
    available: int  # spendable now: unexpired lots' remaining, less any deficit (may be < 0)
    held: int  # reserved by open holds
    by_kind: Mapping[str, int]  # spendable lots' remaining per kind
    next_expiry_at: datetime | None
    next_expiry_amount: int  # spendable points expiring at next_expiry_at
    deficit: int = 0


@dataclass(frozen=True, slots=True)
class ExpiringPoints:
    expires_at: datetime
    kind: str
    amount: int


def balance_of(
    lots: Iterable[Lot], holds: Iterable[Hold], now: datetime, *, deficit: int = 0
) -> Balance:
    """Computed from the lots, so due lots the sweeper has not reached yet no longer count
    (the account row's cached `available` still includes them until the sweep)."""
    check_aware(now, "now")
    by_kind: dict[str, int] = defaultdict(int)
    next_at: datetime | None = None
    next_amount = 0
    for lot in lots:
        if not lot.is_spendable(now):
            continue
        by_kind[lot.kind] += lot.remaining
        if lot.expires_at is None:
            continue
        if next_at is None or lot.expires_at < next_at:
            next_at, next_amount = lot.expires_at, lot.remaining
        elif lot.expires_at == next_at:
            next_amount += lot.remaining
    held = sum(h.amount for h in holds if h.status is HoldStatus.OPEN)
    return Balance(
        available=sum(by_kind.values()) - deficit,
        held=held,
        by_kind=dict(sorted(by_kind.items())),
        next_expiry_at=next_at,
        next_expiry_amount=next_amount,
        deficit=deficit,
    )


def expiring_within(lots: Iterable[Lot], now: datetime, days: int) -> tuple[ExpiringPoints, ...]:
    """Spendable points expiring in (now, now + days], grouped by expiry and kind, soonest
    first. Held points are not listed: they are spoken for."""
    check_aware(now, "now")
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= MAX_EXPIRING_DAYS:
        raise InvalidArgument(f"days must be between 1 and {MAX_EXPIRING_DAYS}", field="days")
    horizon = now + timedelta(days=days)
    groups: dict[tuple[datetime, str], int] = defaultdict(int)
    for lot in lots:
        if lot.is_spendable(now) and lot.expires_at is not None and lot.expires_at <= horizon:
            groups[(lot.expires_at, lot.kind)] += lot.remaining
    return tuple(ExpiringPoints(at, kind, n) for (at, kind), n in sorted(groups.items()))
