"""Usage counters: the names billing counts accounts' events under, per program and period.

Counters are sums (commutative), so events may arrive in any order; the inbox makes each
count once.
"""

from __future__ import annotations

from enum import StrEnum


class Metric(StrEnum):
    GRANTED = "granted"  # key: source key (see source_key)
    GRANTED_SPONSOR_FUNDED = "granted_sponsor_funded"
    SPENT = "spent"  # key: source type
    RESTORED = "restored"
    CLAWED_BACK = "clawed_back"
    EXPIRED = "expired"
    ADJUSTED_UP = "adjusted_up"
    ADJUSTED_DOWN = "adjusted_down"
    LIABILITY = "liability"  # net change of the points members hold
    THANKS_POINTS = "thanks_points"
    THANKS_MESSAGES = "thanks_messages"
    THANKS_SENT = "thanks_sent"  # key: the sender's account id
    THANKS_RECEIVED = "thanks_received"  # key: the receiver's account id
    ITEMS_REDEEMED = "items_redeemed"  # key: SKU; units of confirmed orders, less cancellations
    LOTTERY_ENTRIES = "lottery_entries"  # key: lottery id
    # key: catalog category (NO_CATEGORY); line points of confirmed orders, less cancellations
    SPENT_BY_CATEGORY = "spent_by_category"


NO_CATEGORY = "(none)"  # not a category code (codes have no parentheses), so never a real one


# Sources whose id names something a sponsor reviews (a criterion, a rule or campaign).
KEYED_SOURCES = frozenset({"criterion", "rule"})


def source_key(source_type: str, source_id: str) -> str:
    """ "criterion:welcome", "rule:double-points", or the bare type ("admin", "thanks", ...)."""
    if source_type in KEYED_SOURCES and source_id:
        return f"{source_type}:{source_id}"
    return source_type or "unspecified"


def top(items: dict[str, int], n: int = 10) -> list[tuple[str, int]]:
    """The n largest, ties by key so reports are stable."""
    return sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
