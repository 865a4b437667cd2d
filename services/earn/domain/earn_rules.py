"""The rules engine: how many points a purchase earns, and why. Pure and deterministic.

Given a purchase, the program's earn section (the revision in force at the purchase's time),
its tiers, and how much each capped rule has already given, `evaluate_purchase` returns every
component as a `BreakdownItem`: the base rate, the member's tier multiplier, each matching
rule or campaign (multiplier or fixed bonus, cut to its per-member cap and budget) and a
redeemed offer. Points are whole numbers, rounded the program's way per component, never
negative. Previewing and recording call the same function with the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from runtime.programs.spec_earn import Earn, EarnRule
from runtime.programs.spec_points import TierLevel
from services.earn.domain import calendar
from services.earn.domain.arithmetic import base_points, percent_extra
from services.earn.domain.purchases import Purchase

NORMAL = "normal"


@dataclass(frozen=True)
class BreakdownItem:
    """One reason for points: `source` is base, tier, rule or offer; `ref` its id."""

    source: str
    ref: str
    name: str
    points: int
    kind: str = NORMAL
    note: str = ""


@dataclass(frozen=True)
class ActiveOffer:
    """An offer the member holds and this event uses (boosts the event's points)."""

    offer_id: str
    name: str
    multiplier_percent: int


@dataclass(frozen=True)
class RuleUsage:
    """Extra points capped rules have given so far: to this member, and in total."""

    by_member: Mapping[str, int] = field(default_factory=dict)
    in_total: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EarnResult:
    items: tuple[BreakdownItem, ...]

    @property
    def total(self) -> int:
        return sum(item.points for item in self.items)

    def by_kind(self) -> dict[str, int]:
        """Points per lot kind (one ledger credit each), kinds with no points left out."""
        out: dict[str, int] = {}
        for item in self.items:
            if item.points:
                out[item.kind] = out.get(item.kind, 0) + item.points
        return dict(sorted(out.items()))

    def by_rule(self) -> dict[str, int]:
        """Extra points per capped rule, for the usage counters."""
        out: dict[str, int] = {}
        for item in self.items:
            if item.source == "rule" and item.points:
                out[item.ref] = out.get(item.ref, 0) + item.points
        return out


def rule_matches(rule: EarnRule, purchase: Purchase, zone: ZoneInfo) -> tuple[bool, int]:
    """Whether every condition of `rule` holds, and the yen it applies to (the matching lines'
    amounts when it names SKUs or categories, else the whole purchase)."""
    at = purchase.occurred_at
    if rule.valid_from is not None and at < rule.valid_from:
        return False, 0
    if rule.valid_to is not None and at >= rule.valid_to:
        return False, 0
    if rule.days_of_week and calendar.weekday(at, zone) not in rule.days_of_week:
        return False, 0
    if rule.hours is not None and not calendar.in_hours(
        at, zone, rule.hours.from_hour, rule.hours.to_hour
    ):
        return False, 0
    if rule.channels and purchase.channel not in rule.channels:
        return False, 0
    if rule.stores and purchase.store not in rule.stores:
        return False, 0
    if rule.tiers and purchase.tier_id not in rule.tiers:
        return False, 0
    if rule.min_purchase_yen is not None and purchase.amount_yen < rule.min_purchase_yen:
        return False, 0
    if not rule.skus and not rule.categories:
        return True, purchase.amount_yen
    matching = sum(
        line.amount_yen
        for line in purchase.lines
        if (not rule.skus or line.sku in rule.skus)
        and (not rule.categories or line.category in rule.categories)
    )
    return matching > 0, matching


def _capped(rule: EarnRule, extra: int, usage: RuleUsage) -> tuple[int, str]:
    notes: list[str] = []
    if rule.cap_per_member is not None:
        room = max(0, rule.cap_per_member - usage.by_member.get(rule.id, 0))
        if extra > room:
            extra = room
            notes.append(f"member cap {rule.cap_per_member:,} reached")
    if rule.budget_points is not None:
        room = max(0, rule.budget_points - usage.in_total.get(rule.id, 0))
        if extra > room:
            extra = room
            notes.append(f"budget {rule.budget_points:,} exhausted")
    return extra, "; ".join(notes)


def evaluate_purchase(
    purchase: Purchase,
    earn: Earn,
    *,
    zone: ZoneInfo,
    tiers: tuple[TierLevel, ...] = (),
    usage: RuleUsage | None = None,
    offer: ActiveOffer | None = None,
) -> EarnResult:
    usage = usage or RuleUsage()
    rate, rounding = earn.base_rate, earn.rounding
    base = base_points(purchase.amount_yen, rate.yen_per_unit, rate.points_per_unit, rounding)
    items = [
        BreakdownItem(
            "base",
            "base",
            "Base rate",
            base,
            note=f"{rate.points_per_unit} per {rate.yen_per_unit:,} yen on "
            f"{purchase.amount_yen:,} yen ({rounding})",
        )
    ]
    tier = next((t for t in tiers if t.id == purchase.tier_id), None)
    if tier is not None and tier.earn_multiplier_percent > 100:
        extra = percent_extra(base, 1, tier.earn_multiplier_percent, rounding)
        items.append(
            BreakdownItem(
                "tier", tier.id, tier.name, extra, note=f"{tier.earn_multiplier_percent}% of base"
            )
        )
    for rule in earn.rules:
        matched, yen = rule_matches(rule, purchase, zone)
        if not matched:
            continue
        if rule.kind == "multiplier":
            assert rule.multiplier_percent is not None  # the spec checks require it
            # Base points of the matching yen, times the extra percentage, rounded once.
            extra = percent_extra(
                yen * rate.points_per_unit,
                rate.yen_per_unit,
                rule.multiplier_percent,
                rounding,
            )
            note = f"{rule.multiplier_percent}% on {yen:,} yen"
        else:
            extra = rule.bonus_points or 0
            note = "fixed bonus"
        extra, cap_note = _capped(rule, extra, usage)
        items.append(
            BreakdownItem(
                "rule",
                rule.id,
                rule.name,
                extra,
                kind=rule.point_kind or NORMAL,
                note=f"{note}; {cap_note}" if cap_note else note,
            )
        )
    if offer is not None:
        subtotal = sum(item.points for item in items)
        extra = percent_extra(subtotal, 1, offer.multiplier_percent, rounding)
        items.append(
            BreakdownItem(
                "offer",
                offer.offer_id,
                offer.name,
                extra,
                note=f"{offer.multiplier_percent}% of {subtotal:,} points",
            )
        )
    return EarnResult(tuple(items))
