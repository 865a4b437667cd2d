"""The chunk's tally of capped rules' counters hands each purchase what the earlier ones left."""

from __future__ import annotations

from services.earn.domain.earn_rules import RuleUsage
from services.earn.domain.usage_tally import UsageTally


def test_each_read_sees_what_was_added_before_it_for_the_member_and_in_total() -> None:
    tally = UsageTally(by_member={("drinks", "alice"): 20}, in_total={"drinks": 70})
    assert tally.usage("alice", ["drinks"]) == RuleUsage({"drinks": 20}, {"drinks": 70})
    tally.add("alice", {"drinks": 30})
    tally.add("bob", {"drinks": 10})
    assert tally.usage("alice", ["drinks"]) == RuleUsage({"drinks": 50}, {"drinks": 110})
    assert tally.usage("bob", ["drinks", "snacks"]) == RuleUsage(
        {"drinks": 10, "snacks": 0}, {"drinks": 110, "snacks": 0}
    )


def test_a_refused_purchase_gives_back_what_it_took() -> None:
    tally = UsageTally(in_total={"drinks": 5})
    tally.add("alice", {"drinks": 30})
    tally.add("alice", {"drinks": -30})
    assert tally.usage("alice", ["drinks"]) == RuleUsage({"drinks": 0}, {"drinks": 5})
    assert not any(tally.added_by_member.values())
    assert not any(tally.added_in_total.values())
