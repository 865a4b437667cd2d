"""Campaign comparisons: which campaigns a program has, over which window, and the two groups
of buyers a sponsor compares (participants and comparable non-participants).

A campaign is an earn rule with `validFrom` and/or `validTo` (the program config's own
definition). Its window is [validFrom, validTo): instants, so no time zone is involved; while
it runs the window ends now. Figures come from earn's purchase events, net of returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from runtime.errors import NotFound
from runtime.programs.spec_earn import EarnRule


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    start: datetime | None  # None: no validFrom, every purchase before `end` counts
    end: datetime
    running: bool


def campaign_of(rule: EarnRule, now: datetime) -> Campaign | None:
    if rule.valid_from is None and rule.valid_to is None:
        return None  # a standing rule, not a campaign
    start = rule.valid_from
    end = min(rule.valid_to, now) if rule.valid_to is not None else now
    if start is not None and end < start:
        end = start  # not begun yet: an empty window
    running = (start is None or start <= now) and (rule.valid_to is None or now < rule.valid_to)
    return Campaign(rule.id, rule.name, start, end, running)


def campaigns_of(rules: Iterable[EarnRule], now: datetime) -> list[Campaign]:
    return [c for c in (campaign_of(r, now) for r in rules) if c is not None]


def chosen(campaigns: Sequence[Campaign], ids: Sequence[str]) -> list[Campaign]:
    """The campaigns asked for, in the order asked (none asked: all of them)."""
    if not ids:
        return list(campaigns)
    by_id = {c.id: c for c in campaigns}
    out: list[Campaign] = []
    for index, campaign_id in enumerate(ids):
        if campaign_id not in by_id:
            raise NotFound(
                f"the program has no campaign {campaign_id!r} (an earn rule with validFrom or "
                "validTo)",
                reason="CAMPAIGN_NOT_FOUND",
                field=f"campaign_ids[{index}]",
            )
        out.append(by_id[campaign_id])
    return out


@dataclass(frozen=True)
class BuyerGroup:
    members: int = 0
    purchases: int = 0
    purchase_yen: int = 0

    @property
    def purchase_yen_per_member(self) -> int:
        return self.purchase_yen // self.members if self.members else 0

    @property
    def purchases_per_member(self) -> float:
        return self.purchases / self.members if self.members else 0.0


@dataclass(frozen=True)
class CampaignFigures:
    campaign: Campaign
    points_issued: int
    participants: BuyerGroup
    non_participants: BuyerGroup


def rule_points(breakdown: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Points per earn rule or campaign id from a breakdown's (source, ref, points) items."""
    out: dict[str, int] = {}
    for source, ref, points in breakdown:
        if source == "rule" and points:
            out[ref] = out.get(ref, 0) + points
    return out
