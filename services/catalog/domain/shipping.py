"""Shipping fees in points: the region's fee once per order, plus each shipped unit's own fee.

Rules come from the program's `catalog.shipping` config: a default fee (0 = free) and regions
that change the fee or refuse delivery. A region is a prefecture ("JP-47") or a named group of
postal code prefixes ("remote-islands"); a matching postal prefix (the longest) wins over the
prefecture, so "remote islands of Tokyo" can differ from Tokyo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.errors import FailedPrecondition
from services.catalog.domain.items import ItemType
from services.catalog.domain.regions import PREFECTURES, Prefecture, prefecture_for


@dataclass(frozen=True, slots=True)
class RegionRule:
    region: str
    fee_points: int
    deliverable: bool
    postal_code_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShippingRules:
    default_fee_points: int = 0
    rules: tuple[RegionRule, ...] = ()

    def prefecture_rule(self, prefecture: Prefecture) -> RegionRule | None:
        for rule in self.rules:
            if not rule.postal_code_prefixes and prefecture_for(rule.region) == prefecture:
                return rule
        return None

    def postal_rule(self, postal_code: str) -> RegionRule | None:
        best: tuple[int, RegionRule] | None = None
        for rule in self.rules:
            for prefix in rule.postal_code_prefixes:
                if postal_code.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), rule)
        return best[1] if best else None

    def rule_for(self, prefecture: Prefecture, postal_code: str) -> RegionRule | None:
        return (self.postal_rule(postal_code) if postal_code else None) or self.prefecture_rule(
            prefecture
        )

    def prefecture_table(self) -> list[tuple[Prefecture, bool, int]]:
        """(prefecture, deliverable, fee) for all 47, by JIS code."""
        out = []
        for prefecture in PREFECTURES:
            rule = self.prefecture_rule(prefecture)
            if rule is None:
                out.append((prefecture, True, self.default_fee_points))
            else:
                out.append((prefecture, rule.deliverable, rule.fee_points))
        return out


@dataclass(frozen=True, slots=True)
class ShippedLine:
    sku: str
    type: ItemType
    quantity: int
    fee_points_per_unit: int


@dataclass(frozen=True, slots=True)
class ShippingQuote:
    prefecture: Prefecture
    region: str
    shipping_required: bool
    region_fee_points: int
    item_fee_points: int

    @property
    def fee_points(self) -> int:
        return self.region_fee_points + self.item_fee_points


def quote(
    rules: ShippingRules, prefecture: Prefecture, postal_code: str, lines: Sequence[ShippedLine]
) -> ShippingQuote:
    shipped = [line for line in lines if line.type.shipped]
    rule = rules.rule_for(prefecture, postal_code)
    region = rule.region if rule else ""
    if not shipped:
        # Codes, vouchers and donations travel by e-mail: any address will do.
        return ShippingQuote(prefecture, region, False, 0, 0)
    if rule is not None and not rule.deliverable:
        where = f"{prefecture.name_en} ({prefecture.iso_code})"
        if rule.postal_code_prefixes:
            where = f"postal code {postal_code} (region {rule.region})"
        raise FailedPrecondition(
            f"this program does not ship to {where}",
            reason="NOT_DELIVERABLE",
            field="postal_code" if rule.postal_code_prefixes else "prefecture",
        )
    region_fee = rule.fee_points if rule is not None else rules.default_fee_points
    item_fees = sum(line.fee_points_per_unit * line.quantity for line in shipped)
    return ShippingQuote(prefecture, region, True, region_fee, item_fees)
