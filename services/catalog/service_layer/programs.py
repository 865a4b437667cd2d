"""What a program's config means to the catalog: its view of items and its shipping rules."""

from __future__ import annotations

from runtime.programs.spec import ProgramSpec
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.domain.items import SHARED_PROGRAM
from services.catalog.domain.shipping import RegionRule, ShippingRules


def catalog_view(program_id: str, spec: ProgramSpec | None) -> CatalogView:
    """The items `program_id` sees (`_shared` sees the shared catalog only)."""
    if program_id == SHARED_PROGRAM or spec is None:
        return CatalogView(program_id, use_shared=False)
    return CatalogView(
        program_id,
        use_shared=spec.catalog.use_shared_catalog,
        excluded_skus=tuple(spec.catalog.excluded_skus),
    )


def shipping_rules(spec: ProgramSpec) -> ShippingRules:
    shipping = spec.catalog.shipping
    return ShippingRules(
        default_fee_points=shipping.default_fee_points,
        rules=tuple(
            RegionRule(
                region=region.region,
                fee_points=(
                    region.fee_points
                    if region.fee_points is not None
                    else shipping.default_fee_points
                ),
                deliverable=region.deliverable,
                postal_code_prefixes=tuple(region.postal_code_prefixes),
            )
            for region in shipping.regions
        ),
    )
