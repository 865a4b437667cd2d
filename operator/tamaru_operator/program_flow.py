"""The operator's steps for one ProgramConfig, on the reconcile path shared with `tamaructl apply`
(runtime.programs.publisher): validate, ensure the API-key Secret, publish, read the reports.

Free of kopf: handlers.py turns these results into status patches, Events and kopf's
TemporaryError/PermanentError. Every step is idempotent, since kopf replays objects and retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext

from runtime.auth import hash_api_key
from runtime.messaging.streams import PROGRAMS_BUCKET, ensure_bucket
from runtime.programs.crd_status import ProgramStatus
from runtime.programs.publisher import (
    ApplyOutcome,
    current_record,
    ensure_keys,
    publish_program,
    read_reports,
    wait_for_reports,
)
from runtime.programs.record import ProgramRecord
from runtime.programs.spec import ProgramSpec, SpecInvalid, SpecProblem, parse_spec
from tamaru_operator.api_key_secret import SecretConflict, SecretKeyStore, secret_name
from tamaru_operator.kube_api import KubeApi
from tamaru_operator.nats_link import NatsLink
from tamaru_operator.operator_settings import OperatorSettings
from tamaru_operator.program_claims import claim, current_owner, owner_of, release
from tamaru_operator.reconcile import (
    Published,
    Report,
    already_published,
    invalid_status,
    program_status,
)

# (event type "Normal" or "Warning", reason, message): posted as a Kubernetes Event.
Emit = Callable[[str, str, str], None]


@dataclass
class OperatorContext:
    """What every handler shares (kept in kopf's memo)."""

    settings: OperatorSettings
    nats: NatsLink
    kube: KubeApi
    # One lock per resource: the change handlers and the timer never reconcile it at once.
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self._locks.setdefault((namespace, name), asyncio.Lock())

    def forget(self, namespace: str, name: str) -> None:
        self._locks.pop((namespace, name), None)


@dataclass(frozen=True)
class ProgramResource:
    """The parts of a ProgramConfig object the steps read."""

    name: str
    namespace: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


@dataclass
class Result:
    """What one reconcile found: the status to write, and why it is not Ready if it is not."""

    status: ProgramStatus
    problems: list[SpecProblem] = field(default_factory=list)
    outcome: ApplyOutcome | None = None
    program_id: str | None = None
    published: bool = False  # a new revision was published by this run

    @property
    def invalid(self) -> bool:
        return bool(self.problems)


async def reconcile(
    ctx: OperatorContext, resource: ProgramResource, emit: Emit, *, wait: float
) -> Result:
    """Validate, ensure keys, publish the generation unless already published, read reports.

    An invalid spec changes nothing downstream: no Secret, no publish.
    """
    now = datetime.now(UTC)
    try:
        spec = parse_spec(resource.spec, resource_name=resource.name)
    except SpecInvalid as exc:
        return _invalid(resource, exc.problems, now)
    store = SecretKeyStore(ctx.kube, namespace=resource.namespace, name=secret_name(resource.name))
    try:
        await store.load(spec.program_id)  # refuses a Secret of another program, before any change
    except SecretConflict as exc:
        return _invalid(resource, [SpecProblem("spec.programId", str(exc))], now)
    js = await ctx.nats.jetstream()
    holder = await claim(js, spec.program_id, owner_of(resource.namespace, resource.name))
    if holder is not None:
        message = (
            f"program {spec.program_id!r} is already run by ProgramConfig {holder}; "
            "one program id belongs to one resource"
        )
        return _invalid(resource, [SpecProblem("spec.programId", message)], now)
    keys = await ensure_keys(store, spec.program_id, spec.api_keys.roles)
    if store.added_roles:
        emit(
            "Normal",
            "ApiKeysCreated",
            f"created API keys for {', '.join(store.added_roles)} in Secret {store.name}",
        )
    document = published_spec(spec)
    existing = await current_record(js, spec.program_id)
    key_hashes = {role: hash_api_key(key) for role, key in keys.items()}
    publish = existing is None or not already_published(
        existing[0],
        generation=resource.generation,
        spec=document,
        closed=spec.closed,
        key_hashes=key_hashes,
    )
    if existing is None or publish:
        record, revision = await publish_program(
            js,
            program_id=spec.program_id,
            spec=document,
            keys=keys,
            closed=spec.closed,
            generation=resource.generation,
        )
        emit(
            "Normal",
            "Published",
            f"published generation {record.generation} of program {spec.program_id} "
            f"as revision {revision}" + (" (closed)" if record.closed else ""),
        )
    else:
        record, revision = existing
    result = await _observe(
        ctx, js, resource, spec.program_id, record, revision, wait=wait, closing=record.closed
    )
    result.published = publish
    return result


async def close(
    ctx: OperatorContext, resource: ProgramResource, emit: Emit, *, wait: float
) -> Result | None:
    """Close the program the resource runs; None when it runs none (never published, or the
    program id belongs to another resource).

    Closing re-publishes the record the services run, unchanged but for `closed: true`: it
    needs neither the Secret nor the current spec (which may be invalid, or never applied).
    The services then refuse new activity and keep every row; nothing is deleted. Once every
    service applied it, the resource gives up its claim on the program id.
    """
    program_id = program_id_of(resource)
    owner = owner_of(resource.namespace, resource.name)
    js = await ctx.nats.jetstream()
    if await current_owner(js, program_id) != owner:
        return None
    existing = await current_record(js, program_id)
    if existing is None:
        await release(js, program_id, owner)
        return None
    record, revision = existing
    if not record.closed:
        record, revision = await _publish_closed(js, record)
        emit(
            "Normal",
            "Closing",
            f"closed program {program_id} (revision {revision}); services keep its data",
        )
    result = await _observe(
        ctx, js, resource, program_id, record, revision, wait=wait, closing=True
    )
    if result.outcome is not None and result.outcome.ready:
        await release(js, program_id, owner)
    return result


def published_spec(spec: ProgramSpec) -> dict[str, Any]:
    """The spec as the KV record holds it: the same form `tamaructl apply` publishes."""
    return spec.to_document()


def program_id_of(resource: ProgramResource) -> str:
    """The program a resource runs, even when its spec no longer validates."""
    try:
        return parse_spec(resource.spec, resource_name=resource.name).program_id
    except SpecInvalid:
        given = resource.spec.get("programId")
        return given if isinstance(given, str) and given else resource.name


async def _observe(
    ctx: OperatorContext,
    js: JetStreamContext,
    resource: ProgramResource,
    program_id: str,
    record: ProgramRecord,
    revision: int,
    *,
    wait: float,
    closing: bool,
) -> Result:
    services = ctx.settings.service_names
    outcome = await wait_for_reports(
        js,
        program_id=program_id,
        revision=revision,
        generation=record.generation,
        services=services,
        timeout=wait,
    )
    # Older reports too: they tell an outdated service from a silent one.
    reports = await read_reports(js, program_id, services)
    status = program_status(
        generation=resource.generation,
        published=Published(
            revision=revision,
            generation=record.generation,
            published_at=record.published_at,
            closed=record.closed,
        ),
        reports={s: Report.from_proto(r) for s, r in reports.items()},
        services=services,
        secret_name=secret_name(resource.name),
        closing=closing,
        now=datetime.now(UTC),
        settle=timedelta(seconds=ctx.settings.settle_seconds),
        previous=resource.status,
    )
    return Result(status=status, outcome=outcome, program_id=program_id)


async def _publish_closed(js: JetStreamContext, record: ProgramRecord) -> tuple[ProgramRecord, int]:
    kv = await ensure_bucket(js, PROGRAMS_BUCKET)
    closed = record.model_copy(update={"closed": True, "published_at": datetime.now(UTC)})
    revision = await kv.put(record.program_id, closed.to_bytes())
    return closed, revision


def _invalid(resource: ProgramResource, problems: list[SpecProblem], now: datetime) -> Result:
    status = invalid_status(
        problems, generation=resource.generation, now=now, previous=resource.status
    )
    return Result(status=status, problems=list(problems))
