"""The pure rules engine: every condition, campaign boundaries in Asia/Tokyo, caps, rounding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from runtime.errors import InvalidArgument
from runtime.programs.spec_earn import Earn
from runtime.programs.spec_points import TierLevel
from services.earn.domain.earn_rules import ActiveOffer, RuleUsage, evaluate_purchase
from services.earn.domain.purchases import Line, Purchase

TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday 2026-12-02 12:00 in Tokyo.
NOON_WED = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def earn(**fields: Any) -> Earn:
    return Earn.model_validate(fields)


def rule(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "r1",
        "name": "Rule",
        "kind": "multiplier",
        "multiplierPercent": 200,
    }
    return base | fields


def purchase(**fields: Any) -> Purchase:
    values: dict[str, Any] = {
        "occurred_at": NOON_WED,
        "channel": "store",
        "store": "S1",
        "amount_yen": 1000,
    }
    return Purchase(**(values | fields))


def points(p: Purchase, e: Earn, **kw: Any) -> int:
    return evaluate_purchase(p, e, zone=TOKYO, **kw).total


@pytest.mark.parametrize(
    ("rounding", "yen", "expected"),
    [
        ("floor", 199, 1),
        ("floor", 200, 2),
        ("round", 149, 1),
        ("round", 150, 2),
        ("ceil", 101, 2),
        ("ceil", 100, 1),
        ("floor", 99, 0),
        ("ceil", 1, 1),
    ],
)
def test_base_rate_rounding(rounding: str, yen: int, expected: int) -> None:
    assert points(purchase(amount_yen=yen), earn(rounding=rounding)) == expected


def test_custom_base_rate() -> None:
    e = earn(baseRate={"yenPerUnit": 200, "pointsPerUnit": 3})
    assert points(purchase(amount_yen=1000), e) == 15


def test_tier_multiplier_adds_to_base() -> None:
    tiers = (TierLevel(id="gold", name="Gold", min_points=0, earn_multiplier_percent=150),)
    result = evaluate_purchase(
        purchase(amount_yen=1000, tier_id="gold"), earn(), zone=TOKYO, tiers=tiers
    )
    assert [(i.source, i.points) for i in result.items] == [("base", 10), ("tier", 5)]
    other = evaluate_purchase(purchase(amount_yen=1000), earn(), zone=TOKYO, tiers=tiers)
    assert other.total == 10


CONDITIONS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("channel match", {"channels": ["app"]}, {"channel": "app"}, True),
    ("channel miss", {"channels": ["app"]}, {"channel": "store"}, False),
    ("store match", {"stores": ["S1", "S2"]}, {"store": "S2"}, True),
    ("store miss", {"stores": ["S2"]}, {"store": "S1"}, False),
    ("tier match", {"tiers": ["gold"]}, {"tier_id": "gold"}, True),
    ("tier miss", {"tiers": ["gold"]}, {"tier_id": "silver"}, False),
    ("min purchase met", {"minPurchaseYen": 1000}, {}, True),
    ("min purchase not met", {"minPurchaseYen": 1001}, {}, False),
    ("weekday match", {"daysOfWeek": ["wed"]}, {}, True),
    ("weekday miss", {"daysOfWeek": ["sat", "sun"]}, {}, False),
    ("hours match", {"hours": {"from": 12, "to": 13}}, {}, True),
    ("hours miss", {"hours": {"from": 13, "to": 24}}, {}, False),
    ("overnight hours", {"hours": {"from": 22, "to": 13}}, {}, True),
    ("valid window", {"validFrom": "2026-12-01T00:00:00+09:00"}, {}, True),
    ("not yet valid", {"validFrom": "2026-12-03T00:00:00+09:00"}, {}, False),
    ("ended", {"validTo": "2026-12-02T12:00:00+09:00"}, {}, False),
    (
        "sku match",
        {"skus": ["A"]},
        {"lines": (Line("A", "food", 400), Line("B", "food", 600))},
        True,
    ),
    ("sku miss", {"skus": ["C"]}, {"lines": (Line("A", "food", 1000),)}, False),
    ("sku without lines", {"skus": ["A"]}, {}, False),
    (
        "category match",
        {"categories": ["drink"]},
        {"lines": (Line("A", "food", 400), Line("B", "drink", 600))},
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "conditions", "facts", "applies"),
    CONDITIONS,
    ids=lambda c: c if isinstance(c, str) else "",
)
def test_each_condition(
    case: str, conditions: dict[str, Any], facts: dict[str, Any], applies: bool
) -> None:
    result = evaluate_purchase(purchase(**facts), earn(rules=[rule(**conditions)]), zone=TOKYO)
    assert any(i.source == "rule" for i in result.items) is applies, case


def test_multiplier_on_matching_lines_only() -> None:
    e = earn(rules=[rule(categories=["drink"], multiplierPercent=300)])
    p = purchase(lines=(Line("A", "food", 400), Line("B", "drink", 600)))
    result = evaluate_purchase(p, e, zone=TOKYO)
    assert [(i.source, i.ref, i.points) for i in result.items] == [
        ("base", "base", 10),
        ("rule", "r1", 12),  # 6 base points of the drink x (300% - 100%)
    ]


def test_fixed_bonus_and_campaign_kind() -> None:
    e = earn(
        rules=[
            rule(kind="fixedBonus", bonusPoints=50, pointKind="campaign", multiplierPercent=None)
        ]
    )
    result = evaluate_purchase(purchase(), e, zone=TOKYO)
    assert result.by_kind() == {"campaign": 50, "normal": 10}


def test_every_matching_rule_adds_its_own_extra() -> None:
    e = earn(
        rules=[
            rule(id="double", multiplierPercent=200),
            rule(id="bonus", kind="fixedBonus", bonusPoints=7, multiplierPercent=None),
        ]
    )
    result = evaluate_purchase(purchase(), e, zone=TOKYO)
    assert result.by_rule() == {"double": 10, "bonus": 7}
    assert result.total == 27


# A Saturday campaign in Tokyo: Friday 23:59:59 JST is 14:59:59 UTC.
@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (datetime(2026, 12, 4, 14, 59, 59, tzinfo=UTC), False),  # Fri 23:59:59 JST
        (datetime(2026, 12, 4, 15, 0, 0, tzinfo=UTC), True),  # Sat 00:00:00 JST
        (datetime(2026, 12, 5, 14, 59, 59, tzinfo=UTC), True),  # Sat 23:59:59 JST
        (datetime(2026, 12, 5, 15, 0, 0, tzinfo=UTC), False),  # Sun 00:00:00 JST
    ],
)
def test_weekend_campaign_boundaries_at_tokyo_midnight(at: datetime, applies: bool) -> None:
    e = earn(rules=[rule(daysOfWeek=["sat"])])
    assert points(purchase(occurred_at=at), e) == (20 if applies else 10)


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 30, 15, 0, 0, tzinfo=UTC), True),  # Dec 1 00:00 JST: starts
        (datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 31, 15, 0, 0, tzinfo=UTC), False),  # Jan 1 00:00 JST: ended
    ],
)
def test_campaign_date_range_at_tokyo_midnight(at: datetime, applies: bool) -> None:
    e = earn(
        rules=[rule(validFrom="2026-12-01T00:00:00+09:00", validTo="2027-01-01T00:00:00+09:00")]
    )
    assert points(purchase(occurred_at=at), e) == (20 if applies else 10)


def test_hours_are_in_the_programs_time_zone() -> None:
    e = earn(rules=[rule(hours={"from": 0, "to": 1})])
    assert points(purchase(occurred_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC)), e) == 20
    assert points(purchase(occurred_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC)), e) == 10


def test_member_cap_cuts_extra_points() -> None:
    e = earn(rules=[rule(capPerMember=25)])
    big = purchase(amount_yen=2000)
    assert points(big, e) == 40
    result = evaluate_purchase(big, e, zone=TOKYO, usage=RuleUsage(by_member={"r1": 15}))
    assert result.by_rule() == {"r1": 10}
    assert "member cap" in result.items[-1].note
    assert points(big, e, usage=RuleUsage(by_member={"r1": 25})) == 20


def test_campaign_budget_cuts_extra_points() -> None:
    e = earn(rules=[rule(budgetPoints=1000)])
    result = evaluate_purchase(
        purchase(amount_yen=2000), e, zone=TOKYO, usage=RuleUsage(in_total={"r1": 995})
    )
    assert result.by_rule() == {"r1": 5}
    assert "budget" in result.items[-1].note
    assert points(purchase(), e, usage=RuleUsage(in_total={"r1": 1000})) == 10


def test_offer_boosts_the_whole_event() -> None:
    offer = ActiveOffer("o1", "Double", 200)
    result = evaluate_purchase(purchase(), earn(rules=[rule()]), zone=TOKYO, offer=offer)
    assert result.items[-1].source == "offer"
    assert result.total == 40


def test_every_result_explains_itself() -> None:
    result = evaluate_purchase(purchase(), earn(rules=[rule(name="Double days")]), zone=TOKYO)
    assert [(i.source, i.name, i.note) for i in result.items] == [
        ("base", "Base rate", "1 per 100 yen on 1,000 yen (floor)"),
        ("rule", "Double days", "200% on 1,000 yen"),
    ]


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"amount_yen": 0}, "amount_yen"),
        ({"amount_yen": -5}, "amount_yen"),
        ({"channel": "fax"}, "channel"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),
        ({"lines": (Line("A", "x", 500),)}, "lines"),
        ({"lines": (Line("A", "x", 0), Line("B", "x", 1000))}, "lines[0].amount_yen"),
        ({"lines": (Line("", "", 1000),)}, "lines[0].sku"),
    ],
)
def test_bad_purchases_name_the_field(facts: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        purchase(**facts)
    assert err.value.field == field
