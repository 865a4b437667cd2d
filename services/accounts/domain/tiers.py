"""Tiers: the rank a member holds from points earned in a window, and manual tiers set by an
administrator as a floor (at least this tier) or an override (exactly this tier)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from runtime.errors import InvalidArgument
from services.accounts.domain.commands import ManualTierMode, SetManualTier
from services.accounts.domain.events import TierChanged
from services.accounts.domain.expiry_policy import add_months, zone
from services.accounts.domain.model import Account
from services.accounts.domain.validation import check_aware, check_text


class TierBasis(StrEnum):
    ROLLING_12_MONTHS = "rolling_12_months"
    CALENDAR_YEAR = "calendar_year"


@dataclass(frozen=True, slots=True)
class Tier:
    tier_id: str
    threshold: int  # points earned in the window to reach it


@dataclass(frozen=True, slots=True)
class TierPolicy:
    basis: TierBasis
    tiers: tuple[Tier, ...]  # any order; ranked by threshold

    def __post_init__(self) -> None:
        ids = [t.tier_id for t in self.tiers]
        if len(set(ids)) != len(ids) or "" in ids:
            raise InvalidArgument("tier ids must be unique and non-empty", field="tiers")
        thresholds = [t.threshold for t in self.tiers]
        if len(set(thresholds)) != len(thresholds) or any(t < 0 for t in thresholds):
            raise InvalidArgument("tier thresholds must be distinct and >= 0", field="tiers")

    def ranked(self) -> list[Tier]:
        return sorted(self.tiers, key=lambda t: t.threshold)

    def rank(self, tier_id: str) -> int:
        """0 for no tier, 1 for the lowest, ...; -1 for a tier the program no longer has."""
        if not tier_id:
            return 0
        for index, tier in enumerate(self.ranked(), start=1):
            if tier.tier_id == tier_id:
                return index
        return -1


@dataclass(frozen=True, slots=True)
class Earning:
    at: datetime
    points: int  # negative for a clawback of earned points


@dataclass(frozen=True, slots=True)
class ManualTier:
    tier_id: str
    mode: ManualTierMode
    until: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class TierDecision:
    tier_id: str  # "" when the member reaches no tier
    earned_tier_id: str  # from points alone, before any manual tier
    qualifying_points: int
    window_start: datetime
    next_tier_id: str | None
    points_to_next: int
    manual: bool  # the manual tier decided it


def window_start(basis: TierBasis, now: datetime, tz: str | tzinfo) -> datetime:
    local = now.astimezone(zone(tz))
    if basis is TierBasis.CALENDAR_YEAR:
        return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(
            UTC
        )
    back = add_months(local.date(), -12)
    return local.replace(year=back.year, month=back.month, day=back.day).astimezone(UTC)


def compute_tier(
    policy: TierPolicy,
    earnings: Iterable[Earning],
    now: datetime,
    tz: str | tzinfo,
    manual: ManualTier | None = None,
) -> TierDecision:
    """`earnings`: the member's earned points (credits, less their clawbacks) with when."""
    check_aware(now, "now")
    start = window_start(policy.basis, now, tz)
    points = max(0, sum(e.points for e in earnings if start <= e.at <= now))
    ranked = policy.ranked()
    earned = ""
    next_tier: Tier | None = None
    for tier in ranked:
        if tier.threshold <= points:
            earned = tier.tier_id
        elif next_tier is None:
            next_tier = tier
    tier_id, by_manual = earned, False
    manual_rank = policy.rank(manual.tier_id) if manual and manual.in_force(now) else 0
    if manual and manual_rank > 0:
        overrides = manual.mode is ManualTierMode.OVERRIDE
        if overrides or manual_rank > policy.rank(earned):
            tier_id, by_manual = manual.tier_id, True
    return TierDecision(
        tier_id=tier_id,
        earned_tier_id=earned,
        qualifying_points=points,
        window_start=start,
        next_tier_id=next_tier.tier_id if next_tier else None,
        points_to_next=next_tier.threshold - points if next_tier else 0,
        manual=by_manual,
    )


def tier_change(
    account: Account, current_tier_id: str, decision: TierDecision, now: datetime
) -> TierChanged | None:
    if decision.tier_id == current_tier_id:
        return None
    return TierChanged(
        program_id=account.program_id,
        account_id=account.account_id,
        old_tier_id=current_tier_id,
        new_tier_id=decision.tier_id,
        qualifying_points=decision.qualifying_points,
        manual=decision.manual,
        occurred_at=now,
    )


def plan_manual_tier(cmd: SetManualTier, policy: TierPolicy, now: datetime) -> ManualTier | None:
    """The manual tier to store for the account, or None to clear it."""
    check_text(cmd.reason, "reason", required=True)
    if not cmd.tier_id:
        return None
    if policy.rank(cmd.tier_id) <= 0:
        raise InvalidArgument(
            f"unknown tier {cmd.tier_id!r}", reason="UNKNOWN_TIER", field="tier_id"
        )
    if cmd.until is not None and check_aware(cmd.until, "until") <= now:
        raise InvalidArgument("until must be in the future", field="until")
    return ManualTier(cmd.tier_id, ManualTierMode(cmd.mode), cmd.until)
