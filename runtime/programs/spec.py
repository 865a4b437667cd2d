"""The ProgramConfig spec: a program's whole configuration, the one source of truth.

`ProgramSpec` (pydantic) is what services read; the CRD's OpenAPI schema is derived from it
(runtime/programs/crd.py, `python -m tamaructl crd`), so YAML keys are the camelCase aliases and
every field's description is its `kubectl explain` text. Checks a JSON schema cannot express
(unique ids, ascending thresholds, references between sections...) live in spec_checks.py;
`validate_spec` runs both and names every problem's field as `spec.a.b[2].c`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationError, field_validator

from runtime.programs.spec_billing import Billing
from runtime.programs.spec_checks import cross_field_problems
from runtime.programs.spec_commerce import Catalog, Lotteries, Redeem, SelfPay
from runtime.programs.spec_earn import Earn, Thanks
from runtime.programs.spec_points import Expiry, GrantCriterion, PointKind, Tiers
from runtime.programs.spec_problems import (
    SpecInvalid,
    SpecProblem,
    field_path,
    problems_from_validation_error,
)
from runtime.programs.spec_types import (
    COLOR_PATTERN,
    NORMAL_KIND,
    PROGRAM_ID_PATTERN,
    Bool,
    Int,
    Name,
    SpecModel,
    Url,
)

__all__ = [
    "ApiKeyRole",
    "ApiKeys",
    "Branding",
    "ProgramSpec",
    "SpecInvalid",
    "SpecProblem",
    "parse_spec",
    "validate_spec",
]

ApiKeyRole = Literal["admin", "granter", "backend", "readonly"]
_PROGRAM_ID_RULE = "lower-case letters, digits and '-', 1-40 characters"


class Branding(SpecModel):
    """How the program's member site looks."""

    logo_url: Url | None = Field(None, description="Logo image URL (https).")
    primary_color: str = Field(
        "#1f6f8b", pattern=COLOR_PATTERN, description="Main colour, #rrggbb."
    )
    top_images: list[Url] = Field(
        default_factory=list, max_length=10, description="Images for the member site's top page."
    )


class ApiKeys(SpecModel):
    """API keys made for the program; the operator keeps them in a Secret, services see hashes."""

    roles: list[ApiKeyRole] = Field(
        # A plain default (pydantic copies it per instance) so the CRD carries it too.
        default=["admin"],
        max_length=4,
        description=(
            "One key is made per role: admin (everything), granter (may only grant points), "
            "backend (client systems: earn, redeem, read), readonly (reports)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


def _program_id_defaults_to_resource_name(schema: dict[str, Any]) -> None:
    # Python code always sees a program id (parse_spec fills it from metadata.name), but in
    # the resource it may be left out, which a JSON schema default cannot express.
    schema["required"] = [name for name in schema.get("required", []) if name != "programId"]


class ProgramSpec(SpecModel):
    """A points program's whole configuration (the `spec` of a ProgramConfig resource)."""

    model_config = ConfigDict(json_schema_extra=_program_id_defaults_to_resource_name)

    program_id: str = Field(
        pattern=PROGRAM_ID_PATTERN,
        description=(
            f"Program id ({_PROGRAM_ID_RULE}); used in API keys, event subjects and every row. "
            "Default: the resource name. Never change it once members exist."
        ),
    )
    display_name: Name = Field(description="Program name shown to members and administrators.")
    point_name: Name = Field(
        description="What the points are called, e.g. Thanks Points or サンクスポイント."
    )
    yen_per_point: Int = Field(
        1, ge=1, le=10_000, description="Yen one point is worth when granted, billed and spent."
    )
    time_zone: str = Field(
        "Asia/Tokyo",
        min_length=1,
        max_length=64,
        description="IANA time zone for calendar rules: expiry dates, days of week, months.",
    )
    currency: Literal["JPY"] = Field("JPY", description="Currency of every yen amount.")
    expiry: Expiry = Field(default_factory=Expiry, description="When normal points expire.")
    expiring_soon_days: Int = Field(
        30,
        ge=1,
        le=365,
        description="Points expiring within this many days count as expiring soon.",
    )
    point_kinds: list[PointKind] = Field(
        default_factory=list,
        max_length=5,
        description="Period-limited point kinds with their own expiry (at most 5).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    tiers: Tiers = Field(default_factory=Tiers, description="Member ranks.")
    grant_criteria: list[GrantCriterion] = Field(
        default_factory=list,
        max_length=500,
        description="Reasons administrators grant points for, with fixed amounts.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    allow_free_amount_grants: Bool = Field(
        False, description="Administrators may also grant any amount without a criterion."
    )
    earn: Earn = Field(default_factory=Earn, description="Earning by purchases and behaviours.")
    thanks: Thanks = Field(default_factory=Thanks, description="Thanks points between members.")
    self_pay: SelfPay = Field(default_factory=SelfPay, description="Paying the rest by card.")
    redeem: Redeem = Field(default_factory=Redeem, description="Orders, holds and cancellations.")
    lotteries: Lotteries = Field(default_factory=Lotteries, description="Web lotteries.")
    catalog: Catalog = Field(default_factory=Catalog, description="Items and shipping.")
    billing: Billing = Field(default_factory=Billing, description="What the sponsor is charged.")
    branding: Branding = Field(default_factory=Branding, description="Member site look.")
    api_keys: ApiKeys = Field(default_factory=ApiKeys, description="API keys to create.")
    closed: Bool = Field(
        False, description="A closed program refuses new activity (earning, orders); data is kept."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Tokyo)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The program's time zone, for calendar rules."""
        return ZoneInfo(self.time_zone)

    @property
    def point_kind_ids(self) -> frozenset[str]:
        """Every valid point kind id, `normal` included."""
        return frozenset({NORMAL_KIND, *(kind.id for kind in self.point_kinds)})

    def to_document(self) -> dict[str, Any]:
        """The spec as JSON-ready camelCase data; `parse_spec` of it gives this spec back."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def validate_spec(
    data: Mapping[str, Any], *, resource_name: str | None = None
) -> list[SpecProblem]:
    """Every problem in a spec (empty when it is valid). See `parse_spec`."""
    try:
        parse_spec(data, resource_name=resource_name)
    except SpecInvalid as exc:
        return exc.problems
    return []


def parse_spec(data: Mapping[str, Any], *, resource_name: str | None = None) -> ProgramSpec:
    """The spec as a `ProgramSpec`, or `SpecInvalid` listing every problem found.

    `resource_name` is the ProgramConfig's metadata.name: the program id when the spec gives
    none. Cross-field checks run once the spec's shape is valid.
    """
    if not isinstance(data, Mapping):
        raise SpecInvalid([SpecProblem(field_path(), "must be a mapping of fields")])
    document = dict(data)
    problems: list[SpecProblem] = []
    if "programId" not in document and "program_id" not in document:
        problems += _resource_name_problems(resource_name)
        # A stand-in id lets the rest be checked too, so every problem is reported at once.
        document["programId"] = resource_name if not problems else "unnamed"
    try:
        spec = ProgramSpec.model_validate(document)
    except ValidationError as exc:
        raise SpecInvalid(problems + problems_from_validation_error(exc)) from None
    problems += cross_field_problems(spec)
    if problems:
        raise SpecInvalid(problems)
    return spec


def _resource_name_problems(name: str | None) -> list[SpecProblem]:
    if name is None:
        return [SpecProblem(field_path("programId"), "required")]
    if not re.fullmatch(PROGRAM_ID_PATTERN, name):
        message = (
            f"not set, and the resource name {name!r} cannot be a program id "
            f"({_PROGRAM_ID_RULE}): set spec.programId"
        )
        return [SpecProblem(field_path("programId"), message)]
    return []
