"""Capped rules' counters for a chunk of events: read once, consumed in order, written once.

A purchase recorded alone reads and locks its member's counters, then adds what it gave. A
chunk of purchases does the same with one read for every member in it and one write at the
end; in between, this tally hands each purchase the counters as the purchases before it in
the chunk left them, so caps and budgets are consumed in stream order exactly as one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.earn.domain.earn_rules import RuleUsage


@dataclass
class UsageTally:
    by_member: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, account)
    in_total: dict[str, int] = field(default_factory=dict)  # rule
    # What the chunk added, to write back: per (rule, account) and per rule in total.
    added_by_member: Counter[tuple[str, str]] = field(default_factory=Counter)
    added_in_total: Counter[str] = field(default_factory=Counter)

    def usage(self, account_id: str, rule_ids: Iterable[str]) -> RuleUsage:
        """The counters as a purchase recorded alone would read them now."""
        ids = set(rule_ids)
        return RuleUsage(
            by_member={
                r: self.by_member.get((r, account_id), 0) + self.added_by_member[(r, account_id)]
                for r in ids
            },
            in_total={r: self.in_total.get(r, 0) + self.added_in_total[r] for r in ids},
        )

    def add(self, account_id: str, given: Mapping[str, int]) -> None:
        """Count what capped rules gave a member (negative: take back a refused purchase's)."""
        for rule_id, points in given.items():
            self.added_by_member[(rule_id, account_id)] += points
            self.added_in_total[rule_id] += points
