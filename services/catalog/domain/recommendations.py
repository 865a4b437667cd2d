"""Recommendations that say why: what members like this one redeemed, then what is popular.

Sources, most personal first: items redeemed by members who redeemed the same items as this
member ("also redeemed"), items popular in the member's group, then tier, then in the whole
program, and new items when nothing has been redeemed yet. Each item appears once, under its
most personal reason; items the member already redeemed are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from runtime.errors import InvalidArgument
from services.catalog.domain.items import require_sku
from services.catalog.domain.reservations import MAX_QUANTITY, require_id

DEFAULT_COUNT = 10
MAX_COUNT = 50
MAX_GROUP_ID = 128


class Reason(StrEnum):
    ALSO_REDEEMED = "also_redeemed"
    POPULAR_IN_GROUP = "popular_in_group"
    POPULAR_IN_TIER = "popular_in_tier"
    POPULAR = "popular"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class Candidate:
    sku: str
    reason: Reason
    member_count: int


@dataclass(frozen=True, slots=True)
class RecordRedemption:
    member_id: str
    group_id: str
    tier_id: str
    sku: str
    quantity: int


def validate_redemption(
    member_id: str, group_id: str, tier_id: str, sku: str, quantity: int
) -> RecordRedemption:
    for name, value in (("group_id", group_id), ("tier_id", tier_id)):
        if len(value) > MAX_GROUP_ID:
            raise InvalidArgument(f"{name} is longer than {MAX_GROUP_ID} characters", field=name)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidArgument(f"quantity must be between 1 and {MAX_QUANTITY}", field="quantity")
    return RecordRedemption(
        member_id=require_id(member_id, "member_id"),
        group_id=group_id.strip(),
        tier_id=tier_id.strip(),
        sku=require_sku(sku),
        quantity=quantity,
    )


def recommendation_count(value: int) -> int:
    if value == 0:
        return DEFAULT_COUNT
    if not 1 <= value <= MAX_COUNT:
        raise InvalidArgument(
            f"page_size must be between 1 and {MAX_COUNT} (0: {DEFAULT_COUNT})", field="page_size"
        )
    return value


def merge(
    sources: Sequence[Iterable[Candidate]], *, exclude: set[str], limit: int
) -> list[Candidate]:
    """The first `limit` candidates, sources in order, each sku once, `exclude` left out."""
    chosen: list[Candidate] = []
    seen = set(exclude)
    for source in sources:
        for candidate in source:
            if candidate.sku in seen:
                continue
            seen.add(candidate.sku)
            chosen.append(candidate)
            if len(chosen) == limit:
                return chosen
    return chosen


def explain(candidate: Candidate) -> str:
    n = candidate.member_count
    members = f"{n} member{'s' if n != 1 else ''}"
    match candidate.reason:
        case Reason.ALSO_REDEEMED:
            return f"members who redeemed what you redeemed also chose this ({members})"
        case Reason.POPULAR_IN_GROUP:
            return f"popular in your group ({members} redeemed it)"
        case Reason.POPULAR_IN_TIER:
            return f"popular in your tier ({members} redeemed it)"
        case Reason.POPULAR:
            return f"popular in this program ({members} redeemed it)"
        case Reason.NEW:
            return "new in the catalog"
