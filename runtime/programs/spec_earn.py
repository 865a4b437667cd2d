"""Spec sections about earning: base rate, rules and campaigns, behaviour points, offers, thanks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from runtime.programs.spec_types import (
    MAX_PERCENT,
    MAX_POINTS,
    MAX_YEN,
    Behaviour,
    Bool,
    Channel,
    Code,
    Id,
    Int,
    Name,
    Rounding,
    SpecModel,
    Text,
    Timestamp,
    Weekday,
)

_KEYED_BY_ID: JsonDict = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]}
_SET: JsonDict = {"x-kubernetes-list-type": "set"}


class BaseRate(SpecModel):
    """Points a purchase earns before rules: pointsPerUnit for every yenPerUnit yen spent."""

    yen_per_unit: Int = Field(100, ge=1, le=MAX_YEN, description="Yen per earning unit.")
    points_per_unit: Int = Field(
        1, ge=0, le=MAX_POINTS, description="Points per earning unit (0: purchases earn nothing)."
    )


class HourRange(SpecModel):
    """Hours of the day in the program's time zone: from (inclusive) to (exclusive)."""

    from_hour: Int = Field(alias="from", ge=0, le=23, description="First hour, 0-23.")
    to_hour: Int = Field(alias="to", ge=1, le=24, description="Hour the range ends, 1-24.")


class EarnRule(SpecModel):
    """An earn rule or campaign: extra points for purchases that match every condition given.

    A multiplier rule adds base points x (multiplierPercent - 100)%; a fixedBonus rule adds
    bonusPoints once per matching purchase. Every matching rule adds its own extra points.
    """

    id: Id = Field(description="Rule id, recorded on every point movement it causes.")
    name: Name = Field(description="Name shown to members and in reports.")
    kind: Literal["multiplier", "fixedBonus"] = Field(
        description="How the extra points are computed."
    )
    multiplier_percent: Int | None = Field(
        None, ge=101, le=MAX_PERCENT, description="For kind multiplier: 200 = double points."
    )
    bonus_points: Int | None = Field(
        None, ge=1, le=MAX_POINTS, description="For kind fixedBonus: points added per purchase."
    )
    valid_from: Timestamp | None = Field(None, description="Start (RFC 3339, inclusive).")
    valid_to: Timestamp | None = Field(None, description="End (RFC 3339, exclusive).")
    days_of_week: list[Weekday] = Field(
        default_factory=list,
        max_length=7,
        description="Days it applies on in the program's time zone (empty: every day).",
        json_schema_extra=_SET,
    )
    hours: HourRange | None = Field(None, description="Hours of the day it applies in.")
    channels: list[Channel] = Field(
        default_factory=list,
        max_length=5,
        description="Purchase channels it applies to (empty: all).",
        json_schema_extra=_SET,
    )
    stores: list[Code] = Field(
        default_factory=list, max_length=1000, description="Store codes (empty: all stores)."
    )
    categories: list[Code] = Field(
        default_factory=list, max_length=1000, description="Product categories (empty: all)."
    )
    skus: list[Code] = Field(
        default_factory=list, max_length=1000, description="Product SKUs (empty: all)."
    )
    tiers: list[Id] = Field(
        default_factory=list,
        max_length=10,
        description="Tier ids whose members it applies to (empty: everyone).",
    )
    min_purchase_yen: Int | None = Field(
        None, ge=1, le=MAX_YEN, description="Smallest purchase total (yen, tax included)."
    )
    point_kind: Id | None = Field(
        None, description="Period-limited kind the extra points are credited as (default normal)."
    )
    cap_per_member: Int | None = Field(
        None, ge=1, le=MAX_POINTS, description="Most extra points one member can get from it."
    )
    budget_points: Int | None = Field(
        None, ge=1, le=MAX_POINTS, description="Most extra points it can give in total."
    )


class Frequency(SpecModel):
    """How often a behaviour earns points: at most `count` times per calendar `per`."""

    count: Int = Field(1, ge=1, le=1000, description="Times it may earn in each period.")
    per: Literal["day", "week", "month"] = Field(
        "day", description="Period, in the program's time zone (weeks start on Monday)."
    )


class BehaviourRule(SpecModel):
    """Points for something a member does other than buying (a store visit, a review...)."""

    id: Id = Field(description="Rule id; clients quote it when recording a custom behaviour.")
    name: str = Field(
        "", max_length=100, description="Name shown to members (default: the behaviour)."
    )
    behaviour: Behaviour = Field(description="The behaviour that earns.")
    points: Int = Field(ge=1, le=MAX_POINTS, description="Points per occurrence.")
    point_kind: Id | None = Field(
        None, description="Period-limited kind to credit (default normal)."
    )
    frequency: Frequency = Field(
        default_factory=Frequency, description="At most how often a member earns it."
    )


class OfferTrigger(SpecModel):
    """The purchase that earns a member the offer."""

    min_purchase_yen: Int = Field(ge=1, le=MAX_YEN, description="Smallest purchase total (yen).")
    channels: list[Channel] = Field(
        default_factory=list,
        max_length=5,
        description="Channels the purchase must be made in (empty: all).",
        json_schema_extra=_SET,
    )


class OfferReward(SpecModel):
    """What the member gets: boosted points on the next matching event within validDays."""

    multiplier_percent: Int = Field(
        ge=101,
        le=MAX_PERCENT,
        description="Points of the next matching event x this % (200: double).",
    )
    valid_days: Int = Field(
        ge=1, le=365, description="Days the offer stays usable after the trigger."
    )
    behaviour: Behaviour | None = Field(
        None, description="Boost this behaviour's points instead of the next purchase's."
    )
    channels: list[Channel] = Field(
        default_factory=list,
        max_length=5,
        description="Channels the next purchase must be in (empty: all).",
        json_schema_extra=_SET,
    )


class Offer(SpecModel):
    """A real-time offer: a qualifying purchase earns a one-time boost, pushed to the member."""

    id: Id = Field(description="Offer id.")
    name: Name = Field(description="Name shown to members.")
    message: Text = Field("", description="Text pushed to the member's app when earned.")
    trigger: OfferTrigger = Field(description="The purchase that earns the offer.")
    reward: OfferReward = Field(description="The boost and how long it lasts.")


class ReturnPolicy(SpecModel):
    """What a return does to the points its purchase earned (they are always reversed)."""

    clawback: Literal["allowNegative", "stopAtZero"] = Field(
        "allowNegative",
        description=(
            "allowNegative: reverse exactly what was earned, even if the balance goes negative; "
            "stopAtZero: take back only what the balance still holds."
        ),
    )


# The standard columns of import files; a converter maps a sponsor's own layout onto them.
GRANT_COLUMNS = ("member", "criterion_id", "points", "reason")
PURCHASE_COLUMNS = (
    "purchase_id",
    "member",
    "card",
    "amount_yen",
    "occurred_at",
    "channel",
    "store",
    "sku",
    "category",
)


_FileColumn = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    Field(description="The file's column name, or #n for the n-th column."),
]
_FixedValue = Annotated[
    str, StringConstraints(max_length=500), Field(description="The value of every row.")
]


class ImportConverter(SpecModel):
    """How to read one of the sponsor's own file layouts (a payroll export, a POS journal)
    onto the standard grant or purchase columns; an upload names it by id."""

    id: Id = Field(description="Converter id, named by uploads (Converter.converter_id).")
    file: Literal["grants", "purchases"] = Field(description="What the files hold.")
    encoding: Literal["utf-8", "shift_jis"] = Field("utf-8", description="Text encoding.")
    delimiter: Literal[",", "\t"] = Field(",", description="Field separator: comma or tab.")
    header: Bool = Field(True, description="The first line names the columns.")
    columns: dict[str, _FileColumn] = Field(
        default_factory=dict,
        description=(
            "Standard column -> the file's column name, or #n for the n-th column (1-based). "
            f"Grants: {', '.join(GRANT_COLUMNS)}. Purchases: {', '.join(PURCHASE_COLUMNS)}."
        ),
    )
    fixed: dict[str, _FixedValue] = Field(
        default_factory=dict,
        description="Standard column -> a value used for every row (e.g. channel: store).",
    )
    date_format: Annotated[str, StringConstraints(max_length=64)] = Field(
        "",
        description=(
            "strftime format of dates, e.g. %Y/%m/%d %H:%M; empty: ISO 8601. Times without "
            "an offset are in the program's time zone."
        ),
    )

    @model_validator(mode="after")
    def _standard_columns(self) -> ImportConverter:
        standard = GRANT_COLUMNS if self.file == "grants" else PURCHASE_COLUMNS
        for name in (*self.columns, *self.fixed):
            if name not in standard:
                raise ValueError(
                    f"{name!r} is not a standard {self.file} column (one of {', '.join(standard)})"
                )
        return self


class Earn(SpecModel):
    """How purchases and behaviours earn points."""

    base_rate: BaseRate = Field(default_factory=BaseRate, description="Points per yen spent.")
    rounding: Rounding = Field(
        "floor", description="How fractional points of one purchase are rounded."
    )
    rules: list[EarnRule] = Field(
        default_factory=list,
        max_length=100,
        description="Earn rules and campaigns (a rule with validFrom/validTo is a campaign).",
        json_schema_extra=_KEYED_BY_ID,
    )
    behaviour_rules: list[BehaviourRule] = Field(
        default_factory=list,
        max_length=50,
        description="Points for behaviours other than purchases.",
        json_schema_extra=_KEYED_BY_ID,
    )
    offers: list[Offer] = Field(
        default_factory=list,
        max_length=50,
        description="Offers earned by a purchase and used on a later one.",
        json_schema_extra=_KEYED_BY_ID,
    )
    return_policy: ReturnPolicy = Field(
        default_factory=ReturnPolicy, description="What returns do to earned points."
    )
    import_converters: list[ImportConverter] = Field(
        default_factory=list,
        max_length=50,
        description="Layouts of the sponsor's own grant and purchase files, named by uploads.",
        json_schema_extra=_KEYED_BY_ID,
    )


class Thanks(SpecModel):
    """Thanks points: members send each other points with a message."""

    enabled: Bool = Field(False, description="Members may send thanks.")
    funding: Literal["sponsor", "senderBalance"] = Field(
        "sponsor",
        description=(
            "sponsor: each member gets monthlyAllowance points to give away, billed to the "
            "sponsor; senderBalance: thanks are paid from the sender's own balance."
        ),
    )
    monthly_allowance: Int = Field(
        1000,
        ge=0,
        le=MAX_POINTS,
        description="Points a member may give per month (sponsor funding).",
    )
    max_per_gift: Int = Field(500, ge=1, le=MAX_POINTS, description="Most points in one thanks.")
    public_messages_default: Bool = Field(
        False,
        description=(
            "Whether a thanks message shows on the company timeline by default; otherwise only "
            "sender and receiver see it (the timeline still shows that thanks was sent)."
        ),
    )
