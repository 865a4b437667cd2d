"""The operator changes nothing that is already right (restart, re-checks), repairs what drifted
in the bucket, and rides out a NATS outage by retrying."""

from __future__ import annotations

import asyncio
import base64

from runtime.auth import hash_api_key
from runtime.config import SERVICES
from runtime.devstack import NatsServer
from runtime.programs.publisher import current_record, publish_program
from tests.operator.cluster_double import KubeClient
from tests.operator.conftest import OperatorRun, ServiceSide
from tests.operator.expectations import (
    SPEC,
    conditions,
    eventually,
    reasons_of,
    wait_for_status,
)


async def test_restart_and_rechecks_change_nothing_that_is_right(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    before = await wait_for_status(kube, program_name, phase="Ready", generation=1)
    published = await current_record(service_side.js, program_name)
    assert published is not None
    rows = await service_side.rows(program_name)
    secret = await kube.secret(f"{program_name}-api-keys")

    await operator.stop()
    await operator.start()  # resume handlers run for the existing resource
    await asyncio.sleep(3)  # and the re-check timer (every second here) a few times

    assert await current_record(service_side.js, program_name) == published
    assert await service_side.rows(program_name) == rows
    assert await kube.secret(f"{program_name}-api-keys") == secret
    after = await kube.program(program_name)
    assert after is not None
    assert after["status"] == before["status"]
    assert (await reasons_of(kube, program_name)).count("Published") == 1


async def test_recheck_publishes_again_what_drifted_in_the_bucket(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
    secret = await kube.secret(f"{program_name}-api-keys")
    assert secret is not None
    keys = {role: base64.b64decode(v).decode() for role, v in secret["data"].items()}

    # Someone writes another config for the program straight into the bucket.
    _, tampered = await publish_program(
        service_side.js,
        program_id=program_name,
        spec={**SPEC, "programId": program_name, "pointName": "Tampered"},
        keys=keys,
        closed=False,
        generation=99,
    )

    async def restored() -> int | None:
        published = await current_record(service_side.js, program_name)
        if published is None or published[1] <= tampered:
            return None
        record, revision = published
        return revision if (record.generation, record.spec["pointName"]) == (1, "Stars") else None

    revision = await eventually(restored, what="the resource's generation published again")
    resource = await wait_for_status(kube, program_name, phase="Ready", generation=1)
    assert resource["status"]["revision"] == revision
    rows = await service_side.rows(program_name)
    assert {s: r["revision"] for s, r in rows.items()} == dict.fromkeys(SERVICES, revision)


async def test_nats_outage_is_retried_until_the_program_is_published(
    operator: OperatorRun,
    kube: KubeClient,
    service_side: ServiceSide,
    nats_server: NatsServer,
    program_name: str,
) -> None:
    await nats_server.stop()
    try:
        await kube.create_program(program_name, SPEC)
        await asyncio.sleep(2)  # several retries meanwhile
        resource = await kube.program(program_name)
        assert resource is not None
        assert resource.get("status", {}).get("phase") is None
        assert "Published" not in await reasons_of(kube, program_name)
    finally:
        await nats_server.start()
    ready = await wait_for_status(kube, program_name, phase="Ready", generation=1, timeout=60)
    assert conditions(ready)["Ready"]["status"] == "True"


async def test_deleting_a_key_from_the_secret_rotates_it(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
    secret_name = f"{program_name}-api-keys"
    before = await kube.secret(secret_name)
    assert before is not None

    await kube.patch_secret(secret_name, {"data": {"admin": None}})

    async def rotated() -> dict[str, str] | None:
        secret = await kube.secret(secret_name)
        data = (secret or {}).get("data", {})
        if "admin" not in data or data["admin"] == before["data"]["admin"]:
            return None
        return {role: base64.b64decode(v).decode() for role, v in data.items()}

    keys = await eventually(rotated, what="a new admin key")
    assert keys["backend"] == base64.b64decode(before["data"]["backend"]).decode()

    async def republished() -> bool:
        published = await current_record(service_side.js, program_name)
        hashes = {k.role: k.key_hash for k in published[0].api_keys} if published else {}
        return hashes.get("admin") == hash_api_key(keys["admin"])

    await eventually(republished, what="the new key's hash in the bucket")
    await wait_for_status(kube, program_name, phase="Ready", generation=1)
