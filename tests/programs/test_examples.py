"""The shipped example programs are valid for the CRD and for the services, and say what they
claim to (the features the docs point readers to)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from runtime.programs.crd import API_VERSION, KIND, spec_schema
from runtime.programs.spec import ProgramSpec, parse_spec
from tests.programs.kube_schema import (
    EMPLOYEE_EXAMPLE,
    EXAMPLES,
    RETAIL_EXAMPLE,
    apply_defaults,
    load_example,
    schema_errors,
)


def _parse(manifest: dict[str, Any]) -> ProgramSpec:
    return parse_spec(manifest["spec"], resource_name=manifest["metadata"]["name"])


def test_both_examples_are_shipped() -> None:
    assert {EMPLOYEE_EXAMPLE, RETAIL_EXAMPLE} <= set(EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_the_crd_schema(path: Path) -> None:
    manifest = load_example(path)
    assert manifest["apiVersion"] == API_VERSION
    assert manifest["kind"] == KIND
    assert schema_errors(manifest) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses_and_round_trips(path: Path) -> None:
    spec = _parse(load_example(path))
    # What the publisher puts in NATS KV parses back to the very same config.
    assert parse_spec(spec.to_document()) == spec
    assert (
        schema_errors({"apiVersion": API_VERSION, "kind": KIND, "spec": spec.to_document()}) == []
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_api_server_defaults_agree_with_the_model(path: Path) -> None:
    manifest = load_example(path)
    defaulted = apply_defaults(spec_schema(), manifest["spec"])
    assert defaulted != manifest["spec"]  # the CRD does fill something in
    assert parse_spec(defaulted, resource_name=manifest["metadata"]["name"]) == _parse(manifest)


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}").items()
        }
    return {} if value == [] else {path: value}


def test_api_server_fills_in_every_model_default() -> None:
    minimal = {"displayName": "Minimal", "pointName": "Points"}
    from_model = _leaves(parse_spec(minimal, resource_name="minimal").to_document())
    from_crd = _leaves(apply_defaults(spec_schema(), copy.deepcopy(minimal)))
    from_model.pop(".programId")
    # A `kubectl get -o yaml` of a new resource shows the whole effective config.
    assert from_crd == from_model
    assert from_crd[".billing.setupFeeYen"] == 300_000
    assert from_crd[".timeZone"] == "Asia/Tokyo"


def test_employee_example_has_its_criteria_thanks_and_self_pay() -> None:
    spec = _parse(load_example(EMPLOYEE_EXAMPLE))
    points = {c.id: c.points for c in spec.grant_criteria}
    assert points["annual_mvp"] == 30_000
    assert points["service_1y"] == 5_000
    assert spec.program_id == "acme-rewards"  # from metadata.name
    assert spec.thanks.enabled
    assert spec.thanks.monthly_allowance > 0
    assert spec.self_pay.enabled
    tiers = [(t.up_to_ids, t.monthly_yen) for t in spec.billing.service_fee_tiers]
    assert tiers == [(100, 60_000), (1_000, 100_000), (5_000, 140_000), (10_000, 200_000)]
    assert spec.branding.logo_url is not None
    assert set(spec.api_keys.roles) == {"admin", "granter", "backend", "readonly"}


def test_retail_example_has_its_rules() -> None:
    spec = _parse(load_example(RETAIL_EXAMPLE))
    assert [level.min_points for level in spec.tiers.levels] == [0, 3000, 10000]
    assert (spec.earn.base_rate.yen_per_unit, spec.earn.base_rate.points_per_unit) == (100, 1)
    rules = {rule.id: rule for rule in spec.earn.rules}
    assert rules["sunday_double"].days_of_week == ["sun"]
    assert rules["summer_limited"].point_kind in {kind.id for kind in spec.point_kinds}
    visit = spec.earn.behaviour_rules[0]
    assert (visit.behaviour, visit.frequency.count, visit.frequency.per) == ("storeVisit", 1, "day")
    offer = spec.earn.offers[0]
    assert (offer.trigger.min_purchase_yen, offer.reward.multiplier_percent) == (5000, 200)
    assert offer.reward.valid_days == 7
    assert spec.lotteries.enabled
    undeliverable = {r.region for r in spec.catalog.shipping.regions if not r.deliverable}
    assert undeliverable == {"JP-47", "remote-islands"}
