"""Properties of the rules engine and returns: never negative, deterministic, conserving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.programs.spec_earn import Earn
from services.earn.domain.earn_rules import RuleUsage, evaluate_purchase
from services.earn.domain.purchases import CHANNELS, Line, Purchase
from services.earn.domain.returns import ReturnedLine, plan_return

TOKYO = ZoneInfo("Asia/Tokyo")

lines = st.lists(
    st.builds(
        Line,
        sku=st.sampled_from(["A", "B", "C"]),
        category=st.sampled_from(["food", "drink"]),
        amount_yen=st.integers(1, 100_000),
    ),
    max_size=5,
)


@st.composite
def purchases(draw: st.DrawFn) -> Purchase:
    chosen = tuple(draw(lines))
    amount = sum(line.amount_yen for line in chosen) or draw(st.integers(1, 10_000_000))
    return Purchase(
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC)
        + timedelta(minutes=draw(st.integers(0, 60 * 24 * 400))),
        channel=draw(st.sampled_from(CHANNELS)),
        store=draw(st.sampled_from(["S1", "S2"])),
        amount_yen=amount,
        lines=chosen,
        tier_id=draw(st.sampled_from(["", "gold"])),
    )


rules = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.just("R"),
            "kind": st.sampled_from(["multiplier", "fixedBonus"]),
            "multiplierPercent": st.integers(101, 1000),
            "bonusPoints": st.integers(1, 1000),
            "daysOfWeek": st.lists(st.sampled_from(["mon", "sat", "sun"]), unique=True),
            "channels": st.lists(st.sampled_from(CHANNELS), unique=True, max_size=2),
            "categories": st.lists(st.sampled_from(["food", "drink"]), unique=True),
            "capPerMember": st.one_of(st.none(), st.integers(1, 500)),
            "budgetPoints": st.one_of(st.none(), st.integers(1, 500)),
        }
    ),
    max_size=4,
)


def earn_of(rounding: str, yen_per_unit: int, raw_rules: list[dict[str, object]]) -> Earn:
    return Earn.model_validate(
        {
            "rounding": rounding,
            "baseRate": {"yenPerUnit": yen_per_unit, "pointsPerUnit": 1},
            "rules": [{"id": f"r{i}", **r} for i, r in enumerate(raw_rules)],
        }
    )


@settings(max_examples=300, deadline=None)
@given(
    p=purchases(),
    rounding=st.sampled_from(["floor", "round", "ceil"]),
    yen_per_unit=st.integers(1, 1000),
    raw_rules=rules,
    used=st.integers(0, 1000),
)
def test_points_are_never_negative_and_a_preview_equals_the_record(
    p: Purchase, rounding: str, yen_per_unit: int, raw_rules: list[dict[str, object]], used: int
) -> None:
    e = earn_of(rounding, yen_per_unit, raw_rules)
    usage = RuleUsage(
        by_member={f"r{i}": used for i in range(len(raw_rules))},
        in_total={f"r{i}": used * 2 for i in range(len(raw_rules))},
    )
    preview = evaluate_purchase(p, e, zone=TOKYO, usage=usage)
    recorded = evaluate_purchase(p, e, zone=TOKYO, usage=usage)
    assert preview == recorded
    assert all(item.points >= 0 for item in preview.items)
    assert sum(preview.by_kind().values()) == preview.total
    for r in e.rules:
        if r.cap_per_member is not None:
            assert preview.by_rule().get(r.id, 0) <= max(0, r.cap_per_member - used)


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 100_000), min_size=1, max_size=6),
    credited=st.dictionaries(st.sampled_from(["normal", "campaign"]), st.integers(0, 10**6)),
    order=st.randoms(use_true_random=False),
)
def test_returning_every_line_one_by_one_reverses_exactly_what_was_earned(
    amounts: list[int], credited: dict[str, int], order: object
) -> None:
    indexes = list(range(len(amounts)))
    order.shuffle(indexes)  # type: ignore[attr-defined]
    by_line: tuple[int, ...] = tuple(0 for _ in amounts)
    returned = 0
    reversed_total = {k: 0 for k in credited}
    for index in indexes:
        plan = plan_return(
            amount_yen=sum(amounts),
            line_amounts=amounts,
            returned_before=by_line,
            returned_yen_before=returned,
            credited_by_kind=credited,
            lines=[ReturnedLine(index, 0)],
            full=False,
        )
        by_line, returned = plan.returned_by_line, plan.returned_yen
        for kind, points in plan.reverse_by_kind.items():
            assert points > 0
            reversed_total[kind] += points
            assert reversed_total[kind] <= credited[kind]
    assert reversed_total == credited
