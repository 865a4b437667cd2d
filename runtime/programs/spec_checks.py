"""Cross-field checks a JSON schema cannot express, run on a spec whose shape is already valid.

Each check names the exact field at fault (`spec.earn.rules[1].validTo`), so an administrator
reading `tamaructl validate` or the resource's status knows what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from runtime.programs.spec_earn import EarnRule
from runtime.programs.spec_points import PointKind, Tiers
from runtime.programs.spec_problems import SpecProblem, field_path
from runtime.programs.spec_types import NORMAL_KIND

if TYPE_CHECKING:
    from runtime.programs.spec import ProgramSpec


class _Problems:
    def __init__(self) -> None:
        self.items: list[SpecProblem] = []

    def add(self, message: str, *path: str | int) -> None:
        self.items.append(SpecProblem(field_path(*path), message))


def cross_field_problems(spec: ProgramSpec) -> list[SpecProblem]:
    """Every cross-field problem in `spec` (empty when none)."""
    out = _Problems()
    _unique_ids(spec, out)
    _point_kinds(spec.point_kinds, out)
    _tiers(spec.tiers, out)
    _point_kind_references(spec, out)
    tier_ids = {level.id for level in spec.tiers.levels}
    for index, rule in enumerate(spec.earn.rules):
        _earn_rule(rule, tier_ids, out, "earn", "rules", index)
    for index, offer in enumerate(spec.earn.offers):
        if offer.reward.behaviour is not None and offer.reward.channels:
            out.add(
                "channels only apply when the reward boosts a purchase: remove them or behaviour",
                *("earn", "offers", index, "reward", "channels"),
            )
    if (
        spec.thanks.funding == "sponsor"
        and spec.thanks.max_per_gift > spec.thanks.monthly_allowance
    ):
        out.add(
            f"cannot exceed monthlyAllowance ({spec.thanks.monthly_allowance}) when sponsor-funded",
            "thanks",
            "maxPerGift",
        )
    tiers = spec.billing.service_fee_tiers
    for index in range(1, len(tiers)):
        if tiers[index].up_to_ids <= tiers[index - 1].up_to_ids:
            out.add(
                f"must be greater than the previous tier's upToIds ({tiers[index - 1].up_to_ids})",
                "billing",
                "serviceFeeTiers",
                index,
                "upToIds",
            )
    return out.items


def _unique_ids(spec: ProgramSpec, out: _Problems) -> None:
    shipping = spec.catalog.shipping
    keyed: list[tuple[list[str], tuple[str, ...], str]] = [
        ([k.id for k in spec.point_kinds], ("pointKinds",), "id"),
        ([t.id for t in spec.tiers.levels], ("tiers", "levels"), "id"),
        ([c.id for c in spec.grant_criteria], ("grantCriteria",), "id"),
        ([r.id for r in spec.earn.rules], ("earn", "rules"), "id"),
        ([r.id for r in spec.earn.behaviour_rules], ("earn", "behaviourRules"), "id"),
        ([o.id for o in spec.earn.offers], ("earn", "offers"), "id"),
        ([r.region for r in shipping.regions], ("catalog", "shipping", "regions"), "region"),
    ]
    for keys, prefix, leaf in keyed:
        for index, first in _duplicates(keys):
            out.add(f"duplicate {leaf} {keys[index]!r} (first at [{first}])", *prefix, index, leaf)
    plain: list[tuple[Sequence[str], tuple[str, ...]]] = [
        (spec.api_keys.roles, ("apiKeys", "roles")),
        (spec.catalog.excluded_skus, ("catalog", "excludedSkus")),
        (spec.branding.top_images, ("branding", "topImages")),
    ]
    for values, prefix in plain:
        for index, first in _duplicates(values):
            out.add(f"duplicate {values[index]!r} (first at [{first}])", *prefix, index)


def _point_kinds(kinds: Sequence[PointKind], out: _Problems) -> None:
    needs = {"daysAfterEarn": "days", "endOfMonthAfterMonths": "months", "fixedDate": "date"}
    for index, kind in enumerate(kinds):
        if kind.id == NORMAL_KIND:
            out.add(
                f"{NORMAL_KIND!r} is the kind of ordinary points: pick another id",
                "pointKinds",
                index,
                "id",
            )
        given = {
            "days": kind.expiry.days is not None,
            "months": kind.expiry.months is not None,
            "date": kind.expiry.date is not None,
        }
        wanted = needs[kind.expiry.mode]
        if not given[wanted]:
            out.add(
                f"required when mode is {kind.expiry.mode}", "pointKinds", index, "expiry", wanted
            )
        for name, present in given.items():
            if present and name != wanted:
                out.add(
                    f"does not apply to mode {kind.expiry.mode} (it uses {wanted}): remove it",
                    "pointKinds",
                    index,
                    "expiry",
                    name,
                )


def _tiers(tiers: Tiers, out: _Problems) -> None:
    levels = tiers.levels
    if levels and levels[0].min_points != 0:
        out.add(
            "the first tier must start at 0 so every member has a tier",
            "tiers",
            "levels",
            0,
            "minPoints",
        )
    for index in range(1, len(levels)):
        previous = levels[index - 1].min_points
        if levels[index].min_points <= previous:
            out.add(
                f"must be greater than the previous level's minPoints ({previous}): "
                "list levels in ascending order",
                "tiers",
                "levels",
                index,
                "minPoints",
            )


def _point_kind_references(spec: ProgramSpec, out: _Problems) -> None:
    known = spec.point_kind_ids
    defined = ", ".join(sorted(known))
    references: list[tuple[str | None, tuple[str | int, ...]]] = []
    references += [(c.point_kind, ("grantCriteria", i)) for i, c in enumerate(spec.grant_criteria)]
    references += [(r.point_kind, ("earn", "rules", i)) for i, r in enumerate(spec.earn.rules)]
    references += [
        (r.point_kind, ("earn", "behaviourRules", i))
        for i, r in enumerate(spec.earn.behaviour_rules)
    ]
    for kind, path in references:
        if kind is not None and kind not in known:
            out.add(f"unknown point kind {kind!r} (defined: {defined})", *path, "pointKind")


def _earn_rule(rule: EarnRule, tier_ids: set[str], out: _Problems, *path: str | int) -> None:
    if rule.kind == "multiplier":
        if rule.multiplier_percent is None:
            out.add("required for kind multiplier", *path, "multiplierPercent")
        if rule.bonus_points is not None:
            out.add("only for kind fixedBonus: remove it", *path, "bonusPoints")
    else:
        if rule.bonus_points is None:
            out.add("required for kind fixedBonus", *path, "bonusPoints")
        if rule.multiplier_percent is not None:
            out.add("only for kind multiplier: remove it", *path, "multiplierPercent")
    if (
        rule.valid_from is not None
        and rule.valid_to is not None
        and rule.valid_to <= rule.valid_from
    ):
        out.add(f"must be after validFrom ({rule.valid_from.isoformat()})", *path, "validTo")
    if rule.hours is not None and rule.hours.to_hour <= rule.hours.from_hour:
        out.add(
            f"must be after from ({rule.hours.from_hour}); split ranges past midnight in two",
            *path,
            "hours",
            "to",
        )
    for index, tier in enumerate(rule.tiers):
        if tier not in tier_ids:
            out.add(f"unknown tier {tier!r}", *path, "tiers", index)
    for index, first in _duplicates(rule.days_of_week):
        out.add(
            f"duplicate {rule.days_of_week[index]!r} (first at [{first}])",
            *path,
            "daysOfWeek",
            index,
        )


def _duplicates(values: Sequence[str]) -> Iterable[tuple[int, int]]:
    """(index, index of the first occurrence) for every repeated value."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            yield index, seen[value]
        else:
            seen[value] = index
