"""Spec sections about the points: expiry, period-limited kinds, tiers, grant criteria."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.programs.spec_types import (
    MAX_PERCENT,
    MAX_POINTS,
    Bool,
    Date,
    Id,
    Int,
    Name,
    SpecModel,
    Text,
)


class Expiry(SpecModel):
    """When normal points expire. Dates are computed in the program's time zone."""

    mode: Literal["monthsAfterEarn", "endOfMonthAfterMonths", "never"] = Field(
        "monthsAfterEarn",
        description=(
            "monthsAfterEarn: a lot expires `months` months after it was earned. "
            "endOfMonthAfterMonths: at the end of the month `months` months after the month it "
            "was earned in. never: normal points do not expire (months is ignored)."
        ),
    )
    months: Int = Field(12, ge=1, le=120, description="Months used by the expiry mode.")


class PointKindExpiry(SpecModel):
    """When points of a period-limited kind expire (usually sooner than normal points)."""

    mode: Literal["daysAfterEarn", "endOfMonthAfterMonths", "fixedDate"] = Field(
        description=(
            "daysAfterEarn: `days` days after earning. endOfMonthAfterMonths: at the end of the "
            "month `months` months after the earning month (0 = end of the earning month). "
            "fixedDate: at the end of `date`, whenever earned."
        ),
    )
    days: Int | None = Field(None, ge=1, le=3660, description="Days, for mode daysAfterEarn.")
    months: Int | None = Field(
        None, ge=0, le=120, description="Months, for mode endOfMonthAfterMonths."
    )
    date: Date | None = Field(
        None, description="Last valid day (YYYY-MM-DD, program time zone), for mode fixedDate."
    )


class PointKind(SpecModel):
    """A period-limited point kind: its lots carry their own expiry beside normal points."""

    id: Id = Field(description="Kind id referenced by criteria and rules (`normal` is reserved).")
    name: Name = Field(description="Name members see, e.g. 期間限定ポイント.")
    expiry: PointKindExpiry = Field(description="When points of this kind expire.")


class TierLevel(SpecModel):
    """One member rank: reached when the member's qualifying points reach `minPoints`."""

    id: Id = Field(description="Tier id (stable: members and rules refer to it).")
    name: Name = Field(description="Name members see, e.g. Gold.")
    min_points: Int = Field(
        ge=0,
        le=MAX_POINTS,
        description="Qualifying points needed; the first level starts at 0, then strictly higher.",
    )
    earn_multiplier_percent: Int = Field(
        100,
        ge=100,
        le=MAX_PERCENT,
        description="Purchase base points are multiplied by this percentage (150 = 1.5x).",
    )


class Tiers(SpecModel):
    """Member ranks (tiers). With no levels the program has no tiers."""

    basis: Literal["rolling12Months", "calendarYear"] = Field(
        "rolling12Months",
        description=(
            "Which earned points qualify: rolling12Months = points earned in the last 12 months; "
            "calendarYear = points earned in a calendar year set the tier for the next year."
        ),
    )
    manual_tier: Literal["floor", "override"] = Field(
        "floor",
        description=(
            "What a tier set by an administrator means: floor = the member never drops below it; "
            "override = it replaces the computed tier until removed."
        ),
    )
    levels: list[TierLevel] = Field(
        default_factory=list,
        max_length=10,
        description="Levels in ascending order of minPoints; the first at 0.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )


class GrantCriterion(SpecModel):
    """A reason an administrator may grant points for, with its fixed amount."""

    id: Id = Field(description="Criterion id quoted by grant calls, e.g. annual_mvp.")
    name: Name = Field(description="Name shown to administrators and members.")
    points: Int = Field(ge=1, le=MAX_POINTS, description="Points granted per grant.")
    point_kind: Id | None = Field(
        None, description="Period-limited kind the points are granted as (default: normal)."
    )
    sponsor_funded: Bool = Field(
        True, description="The sponsor is billed for these points (yenPerPoint each)."
    )
    description: Text = Field("", description="Why the criterion exists, shown to administrators.")
