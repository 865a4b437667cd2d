"""Points for behaviours (store visits, app logins, reviews, surveys) with frequency caps."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import InvalidArgument, NotFound
from runtime.programs.spec_earn import BehaviourRule
from services.earn.domain.arithmetic import percent_extra
from services.earn.domain.earn_rules import NORMAL, ActiveOffer, BreakdownItem, EarnResult

BEHAVIOURS = ("storeVisit", "appLogin", "review", "survey", "custom")


def find_rule(rules: Sequence[BehaviourRule], behaviour: str, rule_id: str) -> BehaviourRule:
    """The rule a behaviour earns by: the one quoted, else the first for the behaviour."""
    if behaviour not in BEHAVIOURS:
        raise InvalidArgument(
            f"behaviour must be one of {', '.join(BEHAVIOURS)}", field="behaviour"
        )
    for rule in rules:
        if rule_id and rule.id == rule_id:
            if rule.behaviour != behaviour:
                raise InvalidArgument(
                    f"rule {rule_id!r} is for {rule.behaviour}, not {behaviour}", field="rule_id"
                )
            return rule
        if not rule_id and rule.behaviour == behaviour:
            return rule
    what = f"rule {rule_id!r}" if rule_id else f"a rule for {behaviour}"
    raise NotFound(f"the program has no {what}", reason="BEHAVIOUR_RULE_NOT_FOUND", field="rule_id")


def evaluate_behaviour(
    rule: BehaviourRule, earned_this_period: int, offer: ActiveOffer | None = None
) -> EarnResult:
    """The rule's points, or none once the member earned it `count` times this period."""
    kind = rule.point_kind or NORMAL
    name = rule.name or rule.behaviour
    freq = rule.frequency
    if earned_this_period >= freq.count:
        note = f"already earned {freq.count}x this {freq.per}"
        return EarnResult((BreakdownItem("behaviour", rule.id, name, 0, kind, note),))
    items = [
        BreakdownItem(
            "behaviour", rule.id, name, rule.points, kind, f"{freq.count}x per {freq.per}"
        )
    ]
    if offer is not None:
        extra = percent_extra(rule.points, 1, offer.multiplier_percent, "floor")
        items.append(
            BreakdownItem(
                "offer", offer.offer_id, offer.name, extra, kind, f"{offer.multiplier_percent}%"
            )
        )
    return EarnResult(tuple(items))
