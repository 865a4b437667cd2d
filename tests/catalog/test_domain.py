"""Pure domain rules: prefectures, shipping rules, search text, CSV rows, recommendations."""

from __future__ import annotations

import pytest

from runtime.errors import FailedPrecondition, InvalidArgument
from services.catalog.domain.csv_format import parse_csv
from services.catalog.domain.items import ItemType
from services.catalog.domain.recommendations import Candidate, Reason, explain, merge
from services.catalog.domain.regions import (
    PREFECTURES,
    parse_postal_code,
    parse_prefecture,
    prefecture_for,
)
from services.catalog.domain.shipping import RegionRule, ShippedLine, ShippingRules, quote
from services.catalog.domain.text_search import query_terms, search_document


def test_prefecture_table_has_all_47_in_jis_order() -> None:
    assert len(PREFECTURES) == 47
    assert [p.jis_code for p in PREFECTURES] == [f"{i:02d}" for i in range(1, 48)]
    assert (PREFECTURES[0].name_en, PREFECTURES[0].name_ja) == ("Hokkaido", "北海道")
    assert (PREFECTURES[12].iso_code, PREFECTURES[12].name_ja) == ("JP-13", "東京都")
    assert (PREFECTURES[46].name_en, PREFECTURES[46].name_ja) == ("Okinawa", "沖縄県")
    assert len({p.name_ja for p in PREFECTURES}) == 47
    assert prefecture_for("jp-1") == prefecture_for("01") == prefecture_for("hokkaido")
    assert prefecture_for("JP-48") is None
    assert parse_prefecture("47").name_en == "Okinawa"
    assert parse_postal_code("９００－０００１") == "9000001"
    with pytest.raises(InvalidArgument):
        parse_postal_code("900-00")


def test_longest_postal_prefix_wins_over_prefecture() -> None:
    rules = ShippingRules(
        default_fee_points=300,
        rules=(
            RegionRule("JP-13", 500, True),
            RegionRule("izu", 2000, True, ("100",)),
            RegionRule("ogasawara", 0, False, ("1002",)),
        ),
    )
    tokyo = parse_prefecture("13")
    box = [ShippedLine("BOX", ItemType.PHYSICAL, 2, 50)]
    assert quote(rules, tokyo, "1500001", box).fee_points == 600
    assert quote(rules, tokyo, "1001101", box).fee_points == 2100
    with pytest.raises(FailedPrecondition) as caught:
        quote(rules, tokyo, "1002101", box)
    assert caught.value.reason == "NOT_DELIVERABLE"
    assert quote(rules, parse_prefecture("27"), "", box).fee_points == 400
    gift = [ShippedLine("CODE", ItemType.EGIFT, 1, 50)]
    assert quote(rules, tokyo, "1002101", gift).shipping_required is False


def test_search_text_folds_width_and_case() -> None:
    assert search_document("ＣＯＦＦＥＥ ｺｰﾋｰ", "SKU-1") == "coffee コーヒー\nsku-1"
    assert query_terms("  コーヒー　セット コーヒー ") == ["コーヒー", "セット"]


def test_csv_rows_are_checked_cell_by_cell() -> None:
    rows = parse_csv(
        "\ufeffsku,title,type,price_points,available_from\n"
        "A-1,One,physical,10,2026-04-01T00:00:00+09:00\n\n".encode()
    )
    assert [(r.line, r.draft.sku, r.draft.price_points) for r in rows] == [(2, "A-1", 10)]
    assert rows[0].draft.available_from is not None
    with pytest.raises(InvalidArgument) as naive:
        parse_csv(b"sku,title,type,price_points,available_from\nA,a,physical,1,2026-04-01\n")
    assert naive.value.field == "csv[2].available_from"
    with pytest.raises(InvalidArgument) as not_utf8:
        parse_csv("sku,title,type,price_points\nA,タオル,physical,1\n".encode("shift_jis"))
    assert not_utf8.value.field == "csv"


def test_recommendations_merge_most_personal_first() -> None:
    group = [Candidate("A", Reason.POPULAR_IN_GROUP, 3), Candidate("B", Reason.POPULAR_IN_GROUP, 1)]
    popular = [Candidate("B", Reason.POPULAR, 9), Candidate("C", Reason.POPULAR, 5)]
    chosen = merge([group, popular], exclude={"A"}, limit=5)
    assert [(c.sku, c.reason) for c in chosen] == [
        ("B", Reason.POPULAR_IN_GROUP),
        ("C", Reason.POPULAR),
    ]
    assert explain(chosen[0]) == "popular in your group (1 member redeemed it)"
