"""kopf handlers for ProgramConfig resources: thin adapters over program_flow.py.

- create / update / resume: validate, ensure the API-key Secret, publish, wait for reports.
- timer: re-read the reports every TAMARU_OPERATOR_RECHECK_SECONDS and report drift.
- delete (finalizer): close the program, wait for the services, then let the resource go.

Run with `python -m tamaru_operator` (or `kopf run --standalone -A this_file`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, NoReturn

import kopf
import nats.errors

from runtime.config import load_settings
from runtime.programs.crd import GROUP, PLURAL, VERSION
from runtime.programs.crd_status import ProgramStatus
from tamaru_operator import program_flow
from tamaru_operator.api_key_secret import SecretRace
from tamaru_operator.kube_api import KubeApi, KubeApiError, KubeUnavailable
from tamaru_operator.nats_link import NatsLink, NatsUnavailable
from tamaru_operator.operator_settings import OperatorSettings
from tamaru_operator.program_flow import OperatorContext, ProgramResource, Result
from tamaru_operator.reconcile import problems_text, status_changed

MEMO_KEY = "tamaru"
# What a retry can fix: the broker or the API server being away, a lost race.
TRANSIENT = (
    NatsUnavailable,
    KubeUnavailable,
    KubeApiError,
    SecretRace,
    nats.errors.Error,
    TimeoutError,
    OSError,
)

# Read at import: kopf fixes a timer's interval when the handler is registered.
SETTINGS = OperatorSettings()


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Progress and the diff base go to annotations: the CRD's status schema has no room for
    # kopf's own fields (the API server would prune them), and status is ours to write.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    context = OperatorContext(
        settings=SETTINGS, nats=NatsLink(load_settings().nats_url), kube=KubeApi()
    )
    context.nats.start()
    memo[MEMO_KEY] = context


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    context: OperatorContext | None = memo.get(MEMO_KEY)
    if context is not None:
        await context.nats.close()
        await context.kube.close()


@kopf.on.login()
async def login(memo: kopf.Memo, **kwargs: Any) -> kopf.ConnectionInfo:
    # The same credentials kopf uses also serve our Secret requests (kube_api.py).
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no kubeconfig (KUBECONFIG)")
    _context(memo).kube.use(info)
    return info


@kopf.on.resume(GROUP, VERSION, PLURAL, id="resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="create")
@kopf.on.update(GROUP, VERSION, PLURAL, id="update")
async def apply(
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    runtime: timedelta,
    **_: Any,
) -> None:
    context = _context(memo)
    resource = _resource(body)
    wait = context.settings.report_wait_seconds
    async with context.lock(resource.namespace, resource.name):
        try:
            result = await program_flow.reconcile(context, resource, _emitter(body), wait=wait)
        except TRANSIENT as exc:
            _retry(context, f"cannot reconcile yet: {exc}")
    _write_status(patch, status, result.status)
    if result.invalid:
        text = problems_text(result.problems)
        kopf.warn(body, reason="InvalidSpec", message=f"spec refused, nothing changed: {text}")
        raise kopf.PermanentError(f"invalid spec: {text}")
    _announce(body, status, result)
    assert result.outcome is not None
    if result.outcome.missing and not result.outcome.failed:
        waiting = ", ".join(result.outcome.missing)
        if runtime.total_seconds() < context.settings.settle_seconds:
            _retry(context, f"waiting for {waiting} to apply revision {result.outcome.revision}")
        kopf.warn(
            body,
            reason="NotApplied",
            message=f"{waiting} did not apply revision {result.outcome.revision} in "
            f"{context.settings.settle_seconds:.0f}s; the re-check timer keeps watching",
        )


@kopf.timer(
    GROUP,
    VERSION,
    PLURAL,
    id="recheck",
    interval=SETTINGS.recheck_seconds,
    initial_delay=SETTINGS.recheck_seconds,
)
async def recheck(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    """Drift: a service on an older revision or reporting an error turns the program Degraded;
    a lost or stale KV record is published again (the same idempotent reconcile). A refused
    resource is looked at again too: the program id it wanted may have been released."""
    if body.metadata.get("deletionTimestamp"):
        return
    context = _context(memo)
    resource = _resource(body)
    async with context.lock(resource.namespace, resource.name):
        try:
            result = await program_flow.reconcile(context, resource, _emitter(body), wait=0)
        except TRANSIENT as exc:
            _retry(context, f"cannot re-check: {exc}")
    _write_status(patch, status, result.status)
    if not result.invalid:
        _announce(body, status, result)


@kopf.on.delete(GROUP, VERSION, PLURAL, id="close")
async def close(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    """Close the program and wait for every service to apply that; data is never deleted."""
    context = _context(memo)
    resource = _resource(body)
    wait = context.settings.report_wait_seconds
    async with context.lock(resource.namespace, resource.name):
        try:
            result = await program_flow.close(context, resource, _emitter(body), wait=wait)
        except TRANSIENT as exc:
            _retry(context, f"cannot close yet: {exc}")
    if result is None:
        kopf.info(
            body,
            reason="NothingToClose",
            message="this resource runs no program (never published, or its program id "
            "belongs to another ProgramConfig)",
        )
        context.forget(resource.namespace, resource.name)
        return
    outcome = result.outcome
    assert outcome is not None
    if not outcome.ready:
        _write_status(patch, status, result.status)
        failed = "; ".join(f"{s}: {e}" for s, e in outcome.failed.items())
        if failed:
            kopf.warn(body, reason="CloseFailed", message=failed)
        waiting = ", ".join(outcome.missing)
        _retry(
            context,
            f"closing: waiting for {waiting or 'failed services'} to apply revision "
            f"{outcome.revision}" + (f" ({failed}; restart them to retry)" if failed else ""),
        )
    kopf.info(
        body,
        reason="Closed",
        message=f"program {result.program_id} is closed on every service; its data is kept",
    )
    context.forget(resource.namespace, resource.name)


def _context(memo: Mapping[str, Any]) -> OperatorContext:
    context = memo.get(MEMO_KEY)
    if not isinstance(context, OperatorContext):
        raise kopf.TemporaryError("operator is still starting", delay=1)
    return context


def _resource(body: kopf.Body) -> ProgramResource:
    generation = body.metadata.get("generation")
    return ProgramResource(
        name=str(body.metadata.name),
        namespace=str(body.metadata.namespace),
        # The API server always sets it; a bare test double may not.
        generation=generation if isinstance(generation, int) and generation > 0 else 1,
        spec=dict(body.spec),
        status=dict(body.status),
    )


def _emitter(body: kopf.Body) -> program_flow.Emit:
    def emit(kind: str, reason: str, message: str) -> None:
        if kind == "Warning":
            kopf.warn(body, reason=reason, message=message)
        else:
            kopf.info(body, reason=reason, message=message)

    return emit


def _retry(context: OperatorContext, message: str) -> NoReturn:
    raise kopf.TemporaryError(message, delay=context.settings.retry_delay_seconds)


def _write_status(patch: kopf.Patch, current: Mapping[str, Any], new: ProgramStatus) -> None:
    if status_changed(current, new):
        for key, value in new.to_patch().items():
            patch.status[key] = value


def _announce(body: kopf.Body, current: Mapping[str, Any], result: Result) -> None:
    """An Event when the phase changes to Ready or Degraded, saying which services and why."""
    before, after = current.get("phase"), result.status.phase
    if before == after:
        return
    if after == "Ready":
        kopf.info(
            body,
            reason="Ready",
            message=f"{result.status.ready_services} services applied "
            f"revision {result.status.revision}",
        )
    elif after == "Degraded":
        trouble = [
            c.message
            for c in result.status.conditions
            if c.type.endswith("Ready") and c.type != "Ready" and c.status == "False"
        ]
        kopf.warn(body, reason="Degraded", message="; ".join(trouble)[:1000])
