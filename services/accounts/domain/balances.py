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
    held = sum(h.amount for h in holds if h.status is HoldStatus.OPEN)
    groups = ((lot.kind, lot.expires_at, lot.remaining) for lot in lots if lot.is_spendable(now))
    return balance_from_groups(groups, held, deficit)


def balance_from_groups(
    groups: Iterable[tuple[str, datetime | None, int]], held: int, deficit: int
) -> Balance:
    """A balance from its spendable lots, or groups of them: (kind, expiry moment, amount)."""
    by_kind: dict[str, int] = defaultdict(int)
    next_at: datetime | None = None
    next_amount = 0
    for kind, expires_at, amount in groups:
        by_kind[kind] += amount
        if expires_at is None:
            continue
        if next_at is None or expires_at < next_at:
            next_at, next_amount = expires_at, amount
        elif expires_at == next_at:
            next_amount += amount
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
