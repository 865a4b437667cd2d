"""The billing plan: setup fee, monthly service fee by issued member IDs, waivers and tax.

Defaults are the published price list: setup 300,000 yen; monthly 60,000 yen up to 100 IDs,
100,000 up to 1,000, 140,000 up to 5,000, 200,000 up to 10,000, then +100,000 per 10,000 more;
setup and service fees waived from 20 million yen of annual grants or in the benefits bundle.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.programs.spec_types import MAX_YEN, Bool, Date, Int, Rounding, SpecModel


class FeeTier(SpecModel):
    """Monthly service fee while the number of issued member IDs is at most upToIds."""

    up_to_ids: Int = Field(ge=1, le=100_000_000, description="Issued IDs covered (inclusive).")
    monthly_yen: Int = Field(ge=0, le=MAX_YEN, description="Monthly fee in yen, before tax.")


class IdsBlock(SpecModel):
    """Fee for each further block of IDs beyond the last tier."""

    ids: Int = Field(
        10_000, ge=1, le=100_000_000, description="IDs per block (a started block counts)."
    )
    yen: Int = Field(100_000, ge=0, le=MAX_YEN, description="Monthly yen per block, before tax.")


class Waiver(SpecModel):
    """Setup and service fees are waived when annual grants reach a threshold."""

    annual_grant_yen_threshold: Int = Field(
        20_000_000, ge=0, le=MAX_YEN, description="Yen of sponsor-funded grants per year."
    )
    window: Literal["contractYear", "trailing12Months"] = Field(
        "contractYear",
        description="Year the grants are summed over: the contract year or the last 12 months.",
    )
    contract_start: Date | None = Field(
        None, description="First day of the contract (default: the day the program was created)."
    )


def _default_fee_tiers() -> list[FeeTier]:
    return [
        FeeTier(up_to_ids=100, monthly_yen=60_000),
        FeeTier(up_to_ids=1_000, monthly_yen=100_000),
        FeeTier(up_to_ids=5_000, monthly_yen=140_000),
        FeeTier(up_to_ids=10_000, monthly_yen=200_000),
    ]


class Billing(SpecModel):
    """What the sponsor is charged: granted points (yenPerPoint each) plus the fees below."""

    setup_fee_yen: Int = Field(300_000, ge=0, le=MAX_YEN, description="One-time setup fee, yen.")
    # A plain (copied-per-instance) default, not a factory, so the CRD shows the price list.
    service_fee_tiers: list[FeeTier] = Field(
        _default_fee_tiers(),
        min_length=1,
        max_length=20,
        description="Monthly fee by issued member IDs, in ascending upToIds.",
    )
    per_additional_ids_block: IdsBlock = Field(
        default_factory=IdsBlock, description="Fee per block of IDs beyond the last tier."
    )
    waiver: Waiver = Field(
        default_factory=Waiver, description="When setup and service fees are waived."
    )
    benefits_bundle: Bool = Field(
        False, description="The sponsor is in the benefits bundle: setup and service fees are free."
    )
    tax_rate_percent: Int = Field(10, ge=0, le=100, description="Consumption tax rate, percent.")
    tax_rounding: Rounding = Field("floor", description="Rounding of the tax on each invoice.")
