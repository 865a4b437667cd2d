"""Bad specs are refused with problems that name the exact field at fault."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from runtime.errors import InvalidArgument
from runtime.programs.spec import SpecInvalid, SpecProblem, parse_spec, validate_spec
from tests.programs.kube_schema import (
    EMPLOYEE_EXAMPLE,
    RETAIL_EXAMPLE,
    load_example,
    schema_errors,
)

EMPLOYEE = load_example(EMPLOYEE_EXAMPLE)
RETAIL = load_example(RETAIL_EXAMPLE)

Mutation = Callable[[dict[str, Any]], None]


def _walk(spec: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container holding the field at `a.b[1].c` in `spec`, and its key there."""
    parts: list[str | int] = [
        int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")
    ]
    target: Any = spec
    for part in parts[:-1]:
        target = target[part]
    return target, parts[-1]


def _set(path: str, value: Any) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        target, key = _walk(spec, path)
        target[key] = value

    return mutate


def _append(path: str, value: Any) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        target, key = _walk(spec, path)
        target[key].append(value)

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        target, key = _walk(spec, path)
        del target[key]

    return mutate


KIND_LIMITED = {"id": "limited", "name": "L", "expiry": {"mode": "daysAfterEarn", "days": 30}}

# (case id, base manifest, mutation, field expected, words the message must contain)
CASES: list[tuple[str, dict[str, Any], Mutation, str, str]] = [
    (
        "duplicate criterion id",
        EMPLOYEE,
        _append("grantCriteria", {"id": "annual_mvp", "name": "Again", "points": 1}),
        "spec.grantCriteria[3].id",
        "duplicate id 'annual_mvp'",
    ),
    (
        "tiers not ascending",
        RETAIL,
        _set("tiers.levels[2].minPoints", 2000),
        "spec.tiers.levels[2].minPoints",
        "greater than the previous level's minPoints (3000)",
    ),
    (
        "first tier above zero",
        RETAIL,
        _set("tiers.levels[0].minPoints", 100),
        "spec.tiers.levels[0].minPoints",
        "start at 0",
    ),
    (
        "campaign dates reversed",
        RETAIL,
        _set("earn.rules[1].validTo", "2026-06-01T00:00:00+09:00"),
        "spec.earn.rules[1].validTo",
        "after validFrom",
    ),
    (
        "campaign date without offset",
        RETAIL,
        _set("earn.rules[1].validFrom", "2026-07-01T00:00:00"),
        "spec.earn.rules[1].validFrom",
        "timezone",
    ),
    (
        "unknown pointKind in a rule",
        RETAIL,
        _set("earn.rules[1].pointKind", "winter"),
        "spec.earn.rules[1].pointKind",
        "unknown point kind 'winter'",
    ),
    (
        "unknown pointKind in a criterion",
        EMPLOYEE,
        _set("grantCriteria[0].pointKind", "limited"),
        "spec.grantCriteria[0].pointKind",
        "unknown point kind 'limited' (defined: normal)",
    ),
    (
        "unknown pointKind in a behaviour rule",
        RETAIL,
        _set("earn.behaviourRules[0].pointKind", "bonus"),
        "spec.earn.behaviourRules[0].pointKind",
        "unknown point kind",
    ),
    ("bad timezone", RETAIL, _set("timeZone", "Asia/Edo"), "spec.timeZone", "'Asia/Edo'"),
    (
        "negative points",
        EMPLOYEE,
        _set("grantCriteria[0].points", -5),
        "spec.grantCriteria[0].points",
        "greater than or equal to 1",
    ),
    (
        "points as text",
        EMPLOYEE,
        _set("grantCriteria[1].points", "5000"),
        "spec.grantCriteria[1].points",
        "valid integer (got '5000')",
    ),
    (
        "points as a float",
        EMPLOYEE,
        _set("grantCriteria[1].points", 5000.0),
        "spec.grantCriteria[1].points",
        "valid integer",
    ),
    (
        "unknown field",
        RETAIL,
        _set("earn.baseRate.yenPerPoint", 1),
        "spec.earn.baseRate.yenPerPoint",
        "unknown field",
    ),
    (
        "unknown enum value",
        RETAIL,
        _set("earn.rounding", "truncate"),
        "spec.earn.rounding",
        "'floor', 'round' or 'ceil'",
    ),
    ("missing point name", RETAIL, _delete("pointName"), "spec.pointName", "required"),
    (
        "fixedDate kind without a date",
        RETAIL,
        _set("pointKinds[0].expiry", {"mode": "fixedDate"}),
        "spec.pointKinds[0].expiry.date",
        "required when mode is fixedDate",
    ),
    (
        "kind expiry field of another mode",
        RETAIL,
        _set("pointKinds[0].expiry", {"mode": "daysAfterEarn", "days": 10, "months": 1}),
        "spec.pointKinds[0].expiry.months",
        "does not apply to mode daysAfterEarn",
    ),
    (
        "date written as a number",
        RETAIL,
        _set("pointKinds[0].expiry", {"mode": "fixedDate", "date": 20261231}),
        "spec.pointKinds[0].expiry.date",
        "write dates as text",
    ),
    (
        "normal is not a period-limited kind",
        EMPLOYEE,
        _set("pointKinds", [{**KIND_LIMITED, "id": "normal"}]),
        "spec.pointKinds[0].id",
        "ordinary points",
    ),
    (
        "six point kinds",
        RETAIL,
        _set("pointKinds", [{**KIND_LIMITED, "id": f"k{i}"} for i in range(6)]),
        "spec.pointKinds",
        "at most 5",
    ),
    (
        "multiplier rule without a multiplier",
        RETAIL,
        _delete("earn.rules[0].multiplierPercent"),
        "spec.earn.rules[0].multiplierPercent",
        "required for kind multiplier",
    ),
    (
        "bonus on a multiplier rule",
        RETAIL,
        _set("earn.rules[0].bonusPoints", 10),
        "spec.earn.rules[0].bonusPoints",
        "only for kind fixedBonus",
    ),
    (
        "hours reversed",
        RETAIL,
        _set("earn.rules[2].hours", {"from": 21, "to": 17}),
        "spec.earn.rules[2].hours.to",
        "after from (21)",
    ),
    (
        "rule for an unknown tier",
        RETAIL,
        _set("earn.rules[2].tiers", ["gold", "platinum"]),
        "spec.earn.rules[2].tiers[1]",
        "unknown tier 'platinum'",
    ),
    (
        "duplicate behaviour rule id",
        RETAIL,
        _append("earn.behaviourRules", {"id": "store_visit", "behaviour": "appLogin", "points": 1}),
        "spec.earn.behaviourRules[1].id",
        "duplicate id",
    ),
    (
        "duplicate shipping region",
        RETAIL,
        _append("catalog.shipping.regions", {"region": "JP-47", "feePoints": 500}),
        "spec.catalog.shipping.regions[2].region",
        "duplicate region 'JP-47'",
    ),
    (
        "fee tiers not ascending",
        EMPLOYEE,
        _set("billing.serviceFeeTiers[2].upToIds", 1000),
        "spec.billing.serviceFeeTiers[2].upToIds",
        "previous tier's upToIds (1000)",
    ),
    (
        "gift above the monthly allowance",
        EMPLOYEE,
        _set("thanks.maxPerGift", 5000),
        "spec.thanks.maxPerGift",
        "monthlyAllowance (1000)",
    ),
    (
        "offer boosting a behaviour in a channel",
        RETAIL,
        _set("earn.offers[0].reward.behaviour", "storeVisit"),
        "spec.earn.offers[0].reward.channels",
        "remove them or behaviour",
    ),
    (
        "bad program id",
        RETAIL,
        _set("programId", "Sakura_Mart"),
        "spec.programId",
        "pattern",
    ),
    (
        "bad colour",
        RETAIL,
        _set("branding.primaryColor", "pink"),
        "spec.branding.primaryColor",
        "pattern",
    ),
    (
        "duplicate api key role",
        RETAIL,
        _set("apiKeys.roles", ["admin", "backend", "admin"]),
        "spec.apiKeys.roles[2]",
        "duplicate 'admin'",
    ),
]


@pytest.mark.parametrize(
    ("base", "mutate", "field", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_problem_names_the_field(
    base: dict[str, Any], mutate: Mutation, field: str, words: str
) -> None:
    manifest = copy.deepcopy(base)
    mutate(manifest["spec"])
    problems = validate_spec(manifest["spec"], resource_name=manifest["metadata"]["name"])
    assert [p.field for p in problems] == [field]
    assert words in problems[0].message


# The subset the CRD schema itself expresses: the API server refuses these before the operator.
SCHEMA_CASES = [
    "negative points",
    "points as text",
    "unknown enum value",
    "missing point name",
    "six point kinds",
    "bad program id",
    "bad colour",
]


@pytest.mark.parametrize("case_id", SCHEMA_CASES)
def test_crd_schema_refuses_at_the_same_field(case_id: str) -> None:
    _, base, mutate, field, _ = next(case for case in CASES if case[0] == case_id)
    manifest = copy.deepcopy(base)
    mutate(manifest["spec"])
    errors = schema_errors(manifest)
    assert len(errors) == 1
    # A missing field is reported on its parent by JSON schema.
    assert errors[0].startswith(field if case_id != "missing point name" else "spec:")


def test_several_problems_are_all_reported() -> None:
    manifest = copy.deepcopy(RETAIL)
    manifest["spec"]["tiers"]["levels"][1]["id"] = "regular"
    manifest["spec"]["earn"]["rules"][0]["pointKind"] = "nope"
    problems = validate_spec(manifest["spec"])
    assert [p.field for p in problems] == [
        "spec.tiers.levels[1].id",
        "spec.earn.rules[0].pointKind",
    ]


def test_parse_spec_raises_an_invalid_argument_naming_the_first_field() -> None:
    spec = copy.deepcopy(EMPLOYEE["spec"])
    spec["timeZone"] = "Nowhere"
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(spec, resource_name="acme")
    assert isinstance(caught.value, InvalidArgument)
    assert caught.value.field == "spec.timeZone"
    assert caught.value.reason == "INVALID_PROGRAM_CONFIG"
    assert "spec.timeZone: unknown IANA time zone 'Nowhere'" in caught.value.message
    assert caught.value.problems == [
        SpecProblem("spec.timeZone", "unknown IANA time zone 'Nowhere' (e.g. Asia/Tokyo)")
    ]


def test_program_id_defaults_to_the_resource_name() -> None:
    spec = {"displayName": "D", "pointName": "P"}
    assert parse_spec(spec, resource_name="shop-1").program_id == "shop-1"
    assert parse_spec({**spec, "programId": "given"}, resource_name="shop-1").program_id == "given"


@pytest.mark.parametrize(
    ("resource_name", "message"),
    [
        (None, "required"),
        ("shop.example", "resource name 'shop.example' cannot be a program id"),
        ("a" * 41, "cannot be a program id"),
    ],
)
def test_program_id_needs_a_usable_name(resource_name: str | None, message: str) -> None:
    problems = validate_spec({"displayName": "D", "pointName": "P"}, resource_name=resource_name)
    assert [p.field for p in problems] == ["spec.programId"]
    assert message in problems[0].message


def test_a_spec_that_is_not_a_mapping_is_refused() -> None:
    problems = validate_spec(["not", "a", "mapping"])  # type: ignore[arg-type]
    assert problems == [SpecProblem("spec", "must be a mapping of fields")]


def test_python_field_names_are_accepted_too() -> None:
    spec = parse_spec(
        {"display_name": "D", "point_name": "P", "yen_per_point": 2}, resource_name="x"
    )
    assert (spec.display_name, spec.yen_per_point) == ("D", 2)
    assert spec.to_document()["yenPerPoint"] == 2


def test_a_missing_program_id_does_not_hide_other_problems() -> None:
    problems = validate_spec({"displayName": "D", "pointName": "P", "yenPerPoint": 0})
    assert [p.field for p in problems] == ["spec.programId", "spec.yenPerPoint"]
