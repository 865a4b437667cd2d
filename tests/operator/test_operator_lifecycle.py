"""The operator for real: kopf against the API double, publishing to a real NATS, with the five
services' real config watchers applying each revision to PostgreSQL and reporting back."""

from __future__ import annotations

import base64
import logging

import pytest

from runtime.auth import hash_api_key
from runtime.config import SERVICES
from runtime.messaging.streams import PROGRAMS_BUCKET, ensure_bucket
from runtime.programs.publisher import current_record, read_reports
from tamaru_operator.reconcile import service_condition_type
from tests.operator.cluster_double import KubeClient
from tests.operator.conftest import BROKEN_POINT_NAME, OperatorRun, ServiceSide
from tests.operator.expectations import (
    SPEC,
    conditions,
    events_with,
    eventually,
    wait_for_status,
)


async def test_create_makes_keys_publishes_hashes_and_becomes_ready(
    operator: OperatorRun,
    kube: KubeClient,
    service_side: ServiceSide,
    program_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await kube.create_program(program_name, SPEC)
    resource = await wait_for_status(kube, program_name, phase="Ready", generation=1)

    # The Secret: one key per role, labelled with its program, owned by nothing.
    secret = await kube.secret(f"{program_name}-api-keys")
    assert secret is not None
    keys = {role: base64.b64decode(v).decode() for role, v in secret["data"].items()}
    assert set(keys) == {"admin", "backend"}
    assert all(key.startswith(f"tmr_{role}_") for role, key in keys.items())
    assert secret["metadata"]["labels"]["tamaru.dev/program-id"] == program_name
    assert "ownerReferences" not in secret["metadata"]

    # The KV record: this generation, only hashes of the keys.
    published = await current_record(service_side.js, program_name)
    assert published is not None
    record, revision = published
    assert record.generation == 1
    assert record.spec["pointName"] == "Stars"
    assert {k.role: k.key_hash for k in record.api_keys} == {
        role: hash_api_key(key) for role, key in keys.items()
    }
    kv = await ensure_bucket(service_side.js, PROGRAMS_BUCKET)
    raw = (await kv.get(program_name)).value or b""
    assert not any(key.encode() in raw for key in keys.values())

    # The status: Valid, Published, Ready and one condition per service, all True.
    status = resource["status"]
    assert status["readyServices"] == "5/5"
    assert status["revision"] == revision
    assert status["secretName"] == f"{program_name}-api-keys"
    found = conditions(resource)
    expected = ["Valid", "Published", "Ready", *(service_condition_type(s) for s in SERVICES)]
    assert {t: found[t]["status"] for t in expected} == dict.fromkeys(expected, "True")
    assert set(status["services"]) == set(SERVICES)

    # Each service applied it to its own table.
    rows = await service_side.rows(program_name)
    assert {s: (r["revision"], r["closed"]) for s, r in rows.items()} == dict.fromkeys(
        SERVICES, (revision, False)
    )

    # Events told each step; no key ever appears in one.
    events = await eventually(
        lambda: events_with(kube, program_name, {"ApiKeysCreated", "Published", "Ready"}),
        what="events",
    )
    messages = " ".join(e.get("message", "") for e in events)
    assert not any(key in messages for key in keys.values())
    # Nor in any log line, the operator's debug lines included.
    assert "Handler 'create' succeeded" in caplog.text
    assert not any(key in caplog.text for key in keys.values())


async def test_update_publishes_the_new_generation_and_status_follows(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    first = await wait_for_status(kube, program_name, phase="Ready", generation=1)
    secret_before = await kube.secret(f"{program_name}-api-keys")

    await kube.patch_spec(program_name, {"pointName": "Moons"})
    second = await wait_for_status(kube, program_name, phase="Ready", generation=2)

    published = await current_record(service_side.js, program_name)
    assert published is not None
    record, revision = published
    assert (record.generation, record.spec["pointName"]) == (2, "Moons")
    assert revision > first["status"]["revision"]
    assert second["status"]["revision"] == revision
    reports = await read_reports(service_side.js, program_name, SERVICES)
    assert {s: (r.revision, r.generation, r.ok) for s, r in reports.items()} == dict.fromkeys(
        SERVICES, (revision, 2, True)
    )
    # The keys stay the same across updates.
    assert await kube.secret(f"{program_name}-api-keys") == secret_before


async def test_a_service_failing_to_apply_degrades_the_program_until_fixed(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)

    await kube.patch_spec(program_name, {"pointName": BROKEN_POINT_NAME})
    degraded = await wait_for_status(kube, program_name, phase="Degraded", generation=2)
    found = conditions(degraded)
    assert found["BillingReady"]["status"] == "False"
    assert found["BillingReady"]["reason"] == "ApplyFailed"
    assert "cannot invoice points named 'Broken'" in found["BillingReady"]["message"]
    assert found["AccountsReady"]["status"] == "True"
    assert degraded["status"]["readyServices"] == "4/5"
    assert await events_with(kube, program_name, {"Degraded"})

    await kube.patch_spec(program_name, {"pointName": "Stars"})
    await wait_for_status(kube, program_name, phase="Ready", generation=3)


async def test_invalid_spec_sets_valid_false_and_changes_nothing(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    duplicate = {"id": "welcome", "name": "Welcome again", "points": 50}
    spec = {**SPEC, "grantCriteria": [*SPEC["grantCriteria"], duplicate]}
    await kube.create_program(program_name, spec)

    resource = await wait_for_status(kube, program_name, phase="Invalid", generation=1)
    valid = conditions(resource)["Valid"]
    assert valid["status"] == "False"
    assert valid["reason"] == "InvalidSpec"
    assert "spec.grantCriteria[1].id" in valid["message"]
    assert await events_with(kube, program_name, {"InvalidSpec"})
    # Nothing downstream: no Secret, nothing in the bucket, no service row.
    assert await kube.secret(f"{program_name}-api-keys") is None
    assert await current_record(service_side.js, program_name) is None
    assert await service_side.rows(program_name) == {}

    # Fixing the spec makes it go through.
    await kube.patch_spec(program_name, {"grantCriteria": SPEC["grantCriteria"]})
    fixed = await wait_for_status(kube, program_name, phase="Ready", generation=2)
    assert conditions(fixed)["Valid"]["status"] == "True"


async def test_delete_closes_the_program_and_keeps_its_data(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)

    await kube.delete_program(program_name)

    await eventually(lambda: _gone(kube, program_name), what="the finalizer to let it go")
    published = await current_record(service_side.js, program_name)
    assert published is not None
    record, revision = published
    assert record.closed
    assert record.generation == 1
    reports = await read_reports(service_side.js, program_name, SERVICES)
    assert {s: (r.revision >= revision, r.ok) for s, r in reports.items()} == dict.fromkeys(
        SERVICES, (True, True)
    )
    # The operator deletes no data: every service keeps its row (closed), the Secret stays.
    rows = await service_side.rows(program_name)
    assert {s: r["closed"] for s, r in rows.items()} == dict.fromkeys(SERVICES, True)
    assert await kube.secret(f"{program_name}-api-keys") is not None
    assert await events_with(kube, program_name, {"Closing", "Closed"})


async def test_a_program_id_belongs_to_one_resource_and_survives_delete_and_recreate(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
    published = await current_record(service_side.js, program_name)
    assert published is not None
    keys_before = published[0].api_keys

    # A second resource naming the same program is refused and touches nothing...
    intruder = f"{program_name}-copy"
    await kube.create_program(intruder, {**SPEC, "programId": program_name})
    refused = await wait_for_status(kube, intruder, phase="Invalid", generation=1)
    assert "spec.programId" in conditions(refused)["Valid"]["message"]
    assert f"default/{program_name}" in conditions(refused)["Valid"]["message"]
    assert await kube.secret(f"{intruder}-api-keys") is None
    # ...and deleting it does not close the program it never ran.
    await kube.delete_program(intruder)
    await eventually(lambda: _gone(kube, intruder), what=f"{intruder} to go")
    assert await current_record(service_side.js, program_name) == published
    assert await events_with(kube, intruder, {"NothingToClose"})

    # Deleting the owner closes it; re-creating it reopens it with the keys it had.
    await kube.delete_program(program_name)
    await eventually(lambda: _gone(kube, program_name), what=f"{program_name} to go")
    closed = await current_record(service_side.js, program_name)
    assert closed is not None
    assert closed[0].closed
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
    reopened = await current_record(service_side.js, program_name)
    assert reopened is not None
    assert not reopened[0].closed
    assert reopened[0].api_keys == keys_before
    rows = await service_side.rows(program_name)
    assert {s: r["closed"] for s, r in rows.items()} == dict.fromkeys(SERVICES, False)


async def _gone(kube: KubeClient, name: str) -> bool:
    return await kube.program(name) is None
