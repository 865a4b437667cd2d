"""What a ProgramConfig's status says, computed from what was published and what the services
reported. Pure functions: no Kubernetes, no NATS, no clock (callers pass `now`).

Conditions (Kubernetes conventions, positive polarity): `Valid` (the spec passed validation),
`Published` (its generation is in the program config bucket), `Ready` (every expected service
applied the latest revision) and one `<Service>Ready` per service (`AccountsReady`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from runtime.programs.crd_status import (
    CONDITION_PUBLISHED,
    CONDITION_READY,
    CONDITION_VALID,
    Phase,
    ProgramStatus,
    ServiceStatus,
    StatusCondition,
)
from runtime.programs.record import ProgramRecord
from runtime.programs.spec import SpecProblem
from tamaru.common.v1 import common_pb2

ConditionStatus = Literal["True", "False", "Unknown"]


def service_condition_type(service: str) -> str:
    """`accounts` -> `AccountsReady`."""
    return f"{service[:1].upper()}{service[1:]}Ready"


@dataclass(frozen=True)
class Report:
    """One service's last `ConfigApplied` report on a program."""

    revision: int
    generation: int
    ok: bool
    error: str = ""
    applied_at: datetime | None = None

    @classmethod
    def from_proto(cls, message: common_pb2.ConfigApplied) -> Report:
        applied_at = None
        if message.HasField("applied_at"):
            applied_at = message.applied_at.ToDatetime(tzinfo=UTC)
        return cls(
            revision=message.revision,
            generation=message.generation,
            ok=message.ok,
            error=message.error,
            applied_at=applied_at,
        )


@dataclass(frozen=True)
class Published:
    """The program's record as it stands in the KV bucket."""

    revision: int
    generation: int
    published_at: datetime
    closed: bool


class ServiceState(StrEnum):
    APPLIED = "Applied"  # reported ok on the latest revision
    FAILED = "ApplyFailed"  # reported an error on the latest revision
    PENDING = "Pending"  # not yet reported on the latest revision, still within the settle time
    OUTDATED = "Outdated"  # still on an older revision after the settle time: drift
    SILENT = "NotReported"  # never reported on this program, after the settle time


@dataclass(frozen=True)
class ServiceVerdict:
    service: str
    state: ServiceState
    message: str

    @property
    def condition_status(self) -> ConditionStatus:
        if self.state is ServiceState.APPLIED:
            return "True"
        if self.state is ServiceState.PENDING:
            return "Unknown"
        return "False"


def judge_service(
    service: str, report: Report | None, published: Published, *, settled: bool
) -> ServiceVerdict:
    """Where one service stands on the latest revision.

    `settled` is true once the revision is older than the settle time: a service that has not
    caught up by then is drifting (Outdated/NotReported), not merely slow (Pending).
    """
    if report is not None and report.revision >= published.revision:
        if report.ok:
            message = f"applied revision {report.revision} (generation {report.generation})"
            return ServiceVerdict(service, ServiceState.APPLIED, message)
        error = report.error or "no error message"
        return ServiceVerdict(
            service, ServiceState.FAILED, f"revision {report.revision} failed: {error}"
        )
    if not settled:
        return ServiceVerdict(
            service,
            ServiceState.PENDING,
            f"waiting for {service} to apply revision "
            f"{published.revision} (generation {published.generation})",
        )
    if report is None:
        return ServiceVerdict(
            service, ServiceState.SILENT, f"{service} has not reported on this program"
        )
    return ServiceVerdict(
        service,
        ServiceState.OUTDATED,
        f"{service} is on revision {report.revision} (generation {report.generation}), "
        f"the latest is {published.revision} (generation {published.generation})",
    )


def phase_for(verdicts: Sequence[ServiceVerdict], *, closing: bool) -> Phase:
    if closing:
        return "Closing"
    states = {v.state for v in verdicts}
    if states <= {ServiceState.APPLIED}:
        return "Ready"
    if states & {ServiceState.FAILED, ServiceState.OUTDATED, ServiceState.SILENT}:
        return "Degraded"
    return "Provisioning"


def program_status(
    *,
    generation: int,
    published: Published,
    reports: Mapping[str, Report],
    services: Sequence[str],
    secret_name: str,
    closing: bool,
    now: datetime,
    settle: timedelta,
    previous: Mapping[str, Any] | None = None,
) -> ProgramStatus:
    """The whole status of a valid, published program."""
    settled = now - published.published_at >= settle
    verdicts = [judge_service(s, reports.get(s), published, settled=settled) for s in services]
    ready = [v for v in verdicts if v.state is ServiceState.APPLIED]
    conditions = [
        StatusCondition(
            type=CONDITION_VALID, status="True", reason="Valid", message="spec is valid"
        ),
        StatusCondition(
            type=CONDITION_PUBLISHED,
            status="True",
            reason="Closed" if published.closed else "Published",
            message=(
                f"generation {published.generation} is revision {published.revision} of the "
                f"program config bucket" + (" (closed)" if published.closed else "")
            ),
            observed_revision=published.revision,
        ),
        _ready_condition(verdicts, published.revision),
        *(
            StatusCondition(
                type=service_condition_type(v.service),
                status=v.condition_status,
                reason=str(v.state),
                message=v.message,
                observed_revision=published.revision,
            )
            for v in verdicts
        ),
    ]
    return ProgramStatus(
        phase=phase_for(verdicts, closing=closing),
        observed_generation=generation,
        revision=published.revision,
        secret_name=secret_name,
        ready_services=f"{len(ready)}/{len(verdicts)}",
        services={
            s: _service_status(reports[s], verdict)
            for s, verdict in zip(services, verdicts, strict=True)
            if s in reports
        },
        conditions=keep_transition_times(conditions, previous, now),
    )


def invalid_status(
    problems: Sequence[SpecProblem],
    *,
    generation: int,
    now: datetime,
    previous: Mapping[str, Any] | None = None,
) -> ProgramStatus:
    """The status of a refused spec: `Valid=False` naming the fields; nothing else changes."""
    condition = StatusCondition(
        type=CONDITION_VALID, status="False", reason="InvalidSpec", message=problems_text(problems)
    )
    kept = [
        StatusCondition.model_validate(c)
        for c in _previous_conditions(previous)
        if c.get("type") != CONDITION_VALID
    ]
    return ProgramStatus(
        phase="Invalid",
        observed_generation=generation,
        conditions=keep_transition_times([condition, *kept], previous, now),
    )


def problems_text(problems: Sequence[SpecProblem], limit: int = 10) -> str:
    """`spec.a.b: message; spec.c: message` (the first `limit`, then how many more)."""
    text = "; ".join(f"{p.field}: {p.message}" for p in problems[:limit])
    if len(problems) > limit:
        text += f"; and {len(problems) - limit} more"
    return text[:4000]


def keep_transition_times(
    conditions: Sequence[StatusCondition], previous: Mapping[str, Any] | None, now: datetime
) -> list[StatusCondition]:
    """Stamp each condition with `now`, unless its status is unchanged since `previous`."""
    before = {c.get("type"): c for c in _previous_conditions(previous)}
    stamped = []
    for condition in conditions:
        old = before.get(condition.type)
        since = now
        if old is not None and old.get("status") == condition.status:
            try:
                kept = StatusCondition.model_validate(old).last_transition_time
            except ValueError:
                kept = None
            since = kept or now
        stamped.append(condition.model_copy(update={"last_transition_time": since}))
    return stamped


def status_changed(current: Mapping[str, Any] | None, new: ProgramStatus) -> bool:
    """Whether patching `new` over `current` would change anything (so a no-op is skipped)."""
    if not current:
        return True
    try:
        old = ProgramStatus.model_validate(dict(current))
    except ValueError:
        return True
    patch = new.to_patch()
    return {k: v for k, v in old.to_patch().items() if k in patch} != patch


def _ready_condition(verdicts: Sequence[ServiceVerdict], revision: int) -> StatusCondition:
    by_state: dict[ServiceState, list[str]] = {}
    for verdict in verdicts:
        by_state.setdefault(verdict.state, []).append(verdict.service)
    status: ConditionStatus
    if set(by_state) <= {ServiceState.APPLIED}:
        status, reason = "True", "AllServicesApplied"
        message = f"all {len(verdicts)} services applied revision {revision}"
    elif failed := by_state.get(ServiceState.FAILED):
        status, reason = "False", "ApplyFailed"
        message = f"failed to apply revision {revision}: {', '.join(failed)}"
    elif lagging := by_state.get(ServiceState.OUTDATED, []) + by_state.get(ServiceState.SILENT, []):
        status, reason = "False", "Drift"
        message = f"not on revision {revision}: {', '.join(lagging)}"
    else:
        status, reason = "Unknown", "Waiting"
        pending = by_state.get(ServiceState.PENDING, [])
        message = f"waiting for {', '.join(pending)} to apply revision {revision}"
    return StatusCondition(
        type=CONDITION_READY,
        status=status,
        reason=reason,
        message=message,
        observed_revision=revision,
    )


def _service_status(report: Report, verdict: ServiceVerdict) -> ServiceStatus:
    return ServiceStatus(
        ready=verdict.state is ServiceState.APPLIED,
        revision=report.revision,
        generation=report.generation,
        message=report.error[:1000],
        applied_at=report.applied_at,
    )


def _previous_conditions(previous: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    conditions = (previous or {}).get("conditions") or []
    return [c for c in conditions if isinstance(c, Mapping)]


def already_published(
    record: ProgramRecord,
    *,
    generation: int,
    spec: Mapping[str, Any],
    closed: bool,
    key_hashes: Mapping[str, str],
) -> bool:
    """Whether the bucket already holds exactly this generation (so it is not re-published).

    Publishing again would make a new revision that every service re-applies: a restarted
    operator, a resume or a timer must change nothing that is already right.
    """
    published_hashes = {k.role: k.key_hash for k in record.api_keys}
    return (
        record.generation == generation
        and record.closed == closed
        and record.spec == dict(spec)
        and published_hashes == dict(key_hashes)
    )
