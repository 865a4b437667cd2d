"""Spec sections about spending points: self-pay, orders, lotteries, the catalog and shipping."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from runtime.programs.spec_types import MAX_POINTS, MAX_YEN, Bool, Code, Int, SpecModel

# Digits of a Japanese postal code prefix: "907" covers 907-xxxx (Yaeyama islands).
PostalPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}$")]


class SelfPay(SpecModel):
    """Self-pay: a member short of points pays the rest of an item's price by card."""

    enabled: Bool = Field(False, description="Members may top up an order by card.")
    min_points: Int | None = Field(
        None, ge=1, le=MAX_POINTS, description="Points an order must use before paying by card."
    )
    max_yen: Int | None = Field(
        None, ge=1, le=MAX_YEN, description="Most yen one order may be topped up with."
    )


class Redeem(SpecModel):
    """How orders hold and give back points."""

    cancel_policy: Literal["restoreOriginalLots", "newLots"] = Field(
        "restoreOriginalLots",
        description=(
            "restoreOriginalLots: a cancelled order gives back the very lots it spent, with "
            "their expiry (expired ones expire at once); newLots: it credits new normal lots."
        ),
    )
    hold_ttl_seconds: Int = Field(
        900,
        ge=30,
        le=86_400,
        description="A hold neither captured nor released is released after this.",
    )


class Lotteries(SpecModel):
    """Web lotteries: members enter draws for prizes with small amounts of points."""

    enabled: Bool = Field(False, description="Lotteries are offered to members.")


class ShippingRegion(SpecModel):
    """Shipping fee and deliverability for one region."""

    region: str = Field(
        min_length=1,
        max_length=64,
        description=(
            "ISO 3166-2 prefecture code (JP-47) or a region name, e.g. remote-islands "
            "(then postalCodePrefixes say which addresses it covers)."
        ),
    )
    postal_code_prefixes: list[PostalPrefix] = Field(
        default_factory=list,
        max_length=1000,
        description="Postal code prefixes (digits) in the region, for regions below a prefecture.",
    )
    fee_points: Int | None = Field(
        None, ge=0, le=MAX_POINTS, description="Shipping fee in points (default: defaultFeePoints)."
    )
    deliverable: Bool = Field(True, description="False: items are not shipped there.")


class Shipping(SpecModel):
    """Shipping fees: free (0) by default, with exceptions per region."""

    default_fee_points: Int = Field(
        0, ge=0, le=MAX_POINTS, description="Fee in points for regions not listed."
    )
    regions: list[ShippingRegion] = Field(
        default_factory=list,
        max_length=100,
        description="Regions with another fee or no delivery.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["region"],
        },
    )


class Catalog(SpecModel):
    """Which items members can order."""

    use_shared_catalog: Bool = Field(True, description="Offer the operator's shared catalog.")
    excluded_skus: list[Code] = Field(
        default_factory=list,
        max_length=10_000,
        description="Shared catalog SKUs this program does not offer.",
    )
    shipping: Shipping = Field(default_factory=Shipping, description="Shipping fees and regions.")
