"""The ProgramConfig resource's `status`, written by the operator; its CRD schema is derived here.

The operator builds a `ProgramStatus` and patches `status` with `to_patch()`; `kubectl get pc`
shows phase and readyServices as printer columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Phase = Literal["Provisioning", "Ready", "Degraded", "Closing", "Invalid"]

# Condition types the operator maintains (Kubernetes API conventions: positive polarity).
CONDITION_VALID = "Valid"  # the spec passed parse_spec
CONDITION_PUBLISHED = "Published"  # the spec's revision is in the program config KV bucket
CONDITION_READY = "Ready"  # every service applied the latest revision


class _StatusModel(BaseModel):
    # Unknown keys are ignored rather than refused: an older operator must still read the
    # status a newer one wrote.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class StatusCondition(_StatusModel):
    """One aspect of the program's state, Kubernetes condition style."""

    type: str = Field(max_length=64, description="Valid, Published or Ready.")
    status: Literal["True", "False", "Unknown"] = Field(description="Whether the condition holds.")
    reason: str = Field("", max_length=128, description="CamelCase reason for the last change.")
    message: str = Field("", max_length=4096, description="Human-readable details.")
    last_transition_time: datetime | None = Field(
        None, description="When status last changed (RFC 3339)."
    )
    observed_revision: int | None = Field(
        None, ge=0, description="Program config revision (NATS KV) the condition was computed for."
    )


class ServiceStatus(_StatusModel):
    """What one service reported about applying the program's config."""

    ready: bool = Field(description="The service applied `revision` without error.")
    revision: int = Field(0, ge=0, description="Latest config revision the service reported on.")
    generation: int = Field(0, ge=0, description="Resource generation of that revision.")
    message: str = Field("", max_length=1000, description="The service's error, if any.")
    applied_at: datetime | None = Field(None, description="When the service reported (RFC 3339).")


class ProgramStatus(_StatusModel):
    """Where the program stands: validated, published to the services, applied by each."""

    phase: Phase | None = Field(
        None,
        description=(
            "Provisioning: being published or applied; Ready: every service applied it; "
            "Degraded: some service failed; Closing: closed, winding down; Invalid: spec refused."
        ),
    )
    observed_generation: int | None = Field(
        None, ge=0, description="metadata.generation this status describes."
    )
    revision: int | None = Field(None, ge=0, description="Program config revision in NATS KV.")
    secret_name: str | None = Field(
        None, max_length=253, description="Secret holding the program's API keys, one per role."
    )
    ready_services: str | None = Field(
        None, description="Services ready of those expected, e.g. 5/5."
    )
    services: dict[str, ServiceStatus] = Field(
        default_factory=dict, description="Per service (accounts, earn, ...): its last report."
    )
    conditions: list[StatusCondition] = Field(
        default_factory=list,
        description="Valid, Published and Ready conditions.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )

    def to_patch(self) -> dict[str, Any]:
        """The status as a JSON merge patch body for the status subresource."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
