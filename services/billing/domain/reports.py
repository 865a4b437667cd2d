"""What the sponsor's monthly review shows (usage) and how membership grew."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.billing.domain.periods import Period


@dataclass(frozen=True)
class UsageReport:
    period: Period
    time_zone: str
    program_name: str
    points_granted: int
    granted_by_source: list[tuple[str, int]]
    points_granted_sponsor_funded: int
    points_spent: int
    spent_by_source: list[tuple[str, int]]
    points_restored: int
    points_clawed_back: int
    points_expired: int
    points_adjusted_up: int
    points_adjusted_down: int
    outstanding_points: int
    members_enrolled: int
    members_active: int
    members_issued: int
    thanks_points: int
    thanks_messages: int
    top_thanks_senders: list[tuple[str, int]]
    top_thanks_receivers: list[tuple[str, int]]
    tier_distribution: list[tuple[str, int]]
    # From redeem's events: units per SKU (confirmed, less cancelled) and entries per lottery.
    top_items: list[tuple[str, int]] = field(default_factory=list)
    lottery_entries: list[tuple[str, int]] = field(default_factory=list)
    spent_by_category: list[tuple[str, int]] = field(default_factory=list)
    growth: list[MemberCounts] = field(default_factory=list)


@dataclass(frozen=True)
class MemberCounts:
    period: Period
    enrolled: int
    closed: int
    members_at_end: int
    active: int
    issued: int
