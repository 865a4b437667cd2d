"""The ProgramConfig status computed from what was published and what the services reported
(tamaru_operator.reconcile: pure functions, no cluster, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.auth import hash_api_key
from runtime.programs.crd_status import ProgramStatus
from runtime.programs.record import ApiKeyRef, ProgramRecord
from runtime.programs.spec import SpecProblem
from tamaru.common.v1 import common_pb2
from tamaru_operator.reconcile import (
    Published,
    Report,
    ServiceState,
    already_published,
    invalid_status,
    judge_service,
    problems_text,
    program_status,
    service_condition_type,
    status_changed,
)

SERVICES = ("accounts", "earn", "redeem", "catalog", "billing")
T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=60)
PUBLISHED = Published(revision=7, generation=2, published_at=T0, closed=False)


def ok(revision: int = 7, generation: int = 2) -> Report:
    return Report(revision=revision, generation=generation, ok=True, applied_at=T0)


def status_for(
    reports: dict[str, Report],
    *,
    now: datetime = T0,
    closing: bool = False,
    previous: dict[str, Any] | None = None,
) -> ProgramStatus:
    return program_status(
        generation=2,
        published=PUBLISHED,
        reports=reports,
        services=SERVICES,
        secret_name="acme-api-keys",
        closing=closing,
        now=now,
        settle=SETTLE,
        previous=previous,
    )


def conditions(status: ProgramStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_condition_type_per_service() -> None:
    assert [service_condition_type(s) for s in SERVICES] == [
        "AccountsReady",
        "EarnReady",
        "RedeemReady",
        "CatalogReady",
        "BillingReady",
    ]


def test_all_services_applied_is_ready() -> None:
    status = status_for({s: ok() for s in SERVICES})
    assert status.phase == "Ready"
    assert status.ready_services == "5/5"
    assert status.observed_generation == 2
    assert status.revision == 7
    assert status.secret_name == "acme-api-keys"
    found = conditions(status)
    assert found["Valid"] == ("True", "Valid")
    assert found["Published"] == ("True", "Published")
    assert found["Ready"] == ("True", "AllServicesApplied")
    assert all(found[service_condition_type(s)] == ("True", "Applied") for s in SERVICES)
    assert status.services["earn"].ready
    assert status.services["earn"].revision == 7


def test_a_report_on_a_later_revision_counts_as_applied() -> None:
    verdict = judge_service("earn", ok(revision=9, generation=3), PUBLISHED, settled=True)
    assert verdict.state is ServiceState.APPLIED


def test_missing_reports_within_settle_time_are_provisioning() -> None:
    reports = {s: ok() for s in SERVICES[:3]} | {"catalog": ok(revision=5, generation=1)}
    status = status_for(reports, now=T0 + timedelta(seconds=10))
    assert status.phase == "Provisioning"
    assert status.ready_services == "3/5"
    found = conditions(status)
    assert found["CatalogReady"] == ("Unknown", "Pending")
    assert found["BillingReady"] == ("Unknown", "Pending")
    assert found["Ready"] == ("Unknown", "Waiting")
    # Only services that reported anything have an entry in `services`.
    assert set(status.services) == {"accounts", "earn", "redeem", "catalog"}
    assert not status.services["catalog"].ready


def test_an_error_report_is_degraded_at_once_naming_the_error() -> None:
    failed = Report(revision=7, generation=2, ok=False, error="tier t9 unknown", applied_at=T0)
    status = status_for({**{s: ok() for s in SERVICES}, "billing": failed})
    assert status.phase == "Degraded"
    assert status.ready_services == "4/5"
    billing = next(c for c in status.conditions if c.type == "BillingReady")
    assert (billing.status, billing.reason) == ("False", "ApplyFailed")
    assert "tier t9 unknown" in billing.message
    assert conditions(status)["Ready"] == ("False", "ApplyFailed")
    assert status.services["billing"].message == "tier t9 unknown"


def test_an_older_revision_after_the_settle_time_is_drift() -> None:
    reports = {**{s: ok() for s in SERVICES}, "redeem": ok(revision=4, generation=1)}
    status = status_for(reports, now=T0 + SETTLE)
    assert status.phase == "Degraded"
    redeem = next(c for c in status.conditions if c.type == "RedeemReady")
    assert (redeem.status, redeem.reason) == ("False", "Outdated")
    assert "revision 4" in redeem.message
    assert "latest is 7" in redeem.message
    assert conditions(status)["Ready"] == ("False", "Drift")


def test_a_service_that_never_reports_is_drift_after_the_settle_time() -> None:
    status = status_for({s: ok() for s in SERVICES[:4]}, now=T0 + 2 * SETTLE)
    assert status.phase == "Degraded"
    assert conditions(status)["BillingReady"] == ("False", "NotReported")


def test_closing_program_reports_closing_whatever_the_services_say() -> None:
    status = status_for({s: ok() for s in SERVICES}, closing=True)
    assert status.phase == "Closing"
    assert conditions(status)["Ready"] == ("True", "AllServicesApplied")


def test_transition_times_are_kept_while_a_condition_holds() -> None:
    first = status_for({s: ok() for s in SERVICES[:4]}, now=T0)
    later = T0 + timedelta(seconds=5)
    second = status_for({s: ok() for s in SERVICES}, now=later, previous=first.to_patch())
    times = {c.type: c.last_transition_time for c in second.conditions}
    assert times["AccountsReady"] == T0  # True then, True now
    assert times["BillingReady"] == later  # Unknown then, True now
    assert times["Ready"] == later


def test_status_changed_ignores_an_identical_recomputation() -> None:
    first = status_for({s: ok() for s in SERVICES})
    again = status_for(
        {s: ok() for s in SERVICES}, now=T0 + timedelta(hours=1), previous=first.to_patch()
    )
    assert not status_changed(first.to_patch(), again)
    failed = Report(revision=7, generation=2, ok=False, error="boom", applied_at=T0)
    worse = status_for({**{s: ok() for s in SERVICES}, "earn": failed}, previous=first.to_patch())
    assert status_changed(first.to_patch(), worse)
    assert status_changed({}, first)


def test_invalid_status_names_the_fields_and_keeps_what_runs() -> None:
    running = status_for({s: ok() for s in SERVICES})
    problems = [
        SpecProblem("spec.grantCriteria[1].id", "duplicate id 'welcome' (also at [0])"),
        SpecProblem("spec.pointName", "required"),
    ]
    status = invalid_status(problems, generation=3, now=T0, previous=running.to_patch())
    assert status.phase == "Invalid"
    assert status.observed_generation == 3
    valid = next(c for c in status.conditions if c.type == "Valid")
    assert (valid.status, valid.reason) == ("False", "InvalidSpec")
    assert "spec.grantCriteria[1].id" in valid.message
    assert "spec.pointName" in valid.message
    # The previous generation still runs on the services: its conditions stay.
    assert conditions(status)["Published"] == ("True", "Published")


def test_problems_text_is_bounded() -> None:
    problems = [SpecProblem(f"spec.grantCriteria[{i}].id", "bad") for i in range(15)]
    text = problems_text(problems, limit=10)
    assert "spec.grantCriteria[9].id" in text
    assert "spec.grantCriteria[10].id" not in text
    assert text.endswith("and 5 more")


def test_report_from_proto_keeps_time_and_error() -> None:
    stamp = Timestamp()
    stamp.FromDatetime(T0)
    message = common_pb2.ConfigApplied(
        program_id="acme",
        service="earn",
        revision=3,
        ok=False,
        error="x",
        generation=2,
        applied_at=stamp,
    )
    assert Report.from_proto(message) == Report(
        revision=3, generation=2, ok=False, error="x", applied_at=T0
    )
    assert Report.from_proto(common_pb2.ConfigApplied(revision=1, ok=True)).applied_at is None


def test_already_published_compares_generation_spec_closed_and_key_hashes() -> None:
    key_hash = hash_api_key("tmr_admin_secret")
    record = ProgramRecord(
        program_id="acme",
        generation=2,
        spec={"pointName": "Stars"},
        api_keys=[ApiKeyRef(key_id="acme-admin", role="admin", key_hash=key_hash)],
    )

    def published(
        generation: int = 2,
        spec: dict[str, Any] | None = None,
        closed: bool = False,
        key_hashes: dict[str, str] | None = None,
    ) -> bool:
        return already_published(
            record,
            generation=generation,
            spec=spec if spec is not None else {"pointName": "Stars"},
            closed=closed,
            key_hashes=key_hashes if key_hashes is not None else {"admin": key_hash},
        )

    assert published()
    assert not published(generation=3)
    assert not published(spec={"pointName": "Moons"})
    assert not published(closed=True)
    assert not published(key_hashes={"admin": hash_api_key("tmr_admin_other")})
    assert not published(key_hashes={"admin": key_hash, "backend": key_hash})
