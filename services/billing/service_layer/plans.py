"""The program's billing plan (ProgramSpec.billing) as the domain's BillingPlan."""

from __future__ import annotations

from runtime.programs.spec import ProgramSpec
from services.billing.domain.fees import BillingPlan, FeeTier


def plan_of(spec: ProgramSpec) -> BillingPlan:
    billing = spec.billing
    return BillingPlan(
        yen_per_point=spec.yen_per_point,
        setup_fee_yen=billing.setup_fee_yen,
        tiers=tuple(FeeTier(t.up_to_ids, t.monthly_yen) for t in billing.service_fee_tiers),
        block_ids=billing.per_additional_ids_block.ids,
        block_yen=billing.per_additional_ids_block.yen,
        waiver_threshold_yen=billing.waiver.annual_grant_yen_threshold,
        waiver_window=billing.waiver.window,
        contract_start=billing.waiver.contract_start,
        benefits_bundle=billing.benefits_bundle,
        tax_rate_percent=billing.tax_rate_percent,
        tax_rounding=billing.tax_rounding,
    )
