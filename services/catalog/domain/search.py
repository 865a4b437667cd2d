"""What a browse/search asks for, checked; the SQL that answers it lives in the adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from runtime.errors import InvalidArgument
from services.catalog.domain.items import CATEGORY_PATTERN, MAX_POINTS, ItemType
from services.catalog.domain.text_search import MAX_QUERY, query_terms

MAX_FILTER_VALUES = 50


class SortOrder(StrEnum):
    RELEVANCE = "relevance"
    TITLE = "title"
    PRICE_ASCENDING = "price_asc"
    PRICE_DESCENDING = "price_desc"
    NEWEST = "newest"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    terms: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    types: tuple[ItemType, ...] = ()
    min_price_points: int = 0
    max_price_points: int | None = None
    in_stock_only: bool = False
    sort: SortOrder = SortOrder.TITLE
    include_unavailable: bool = False


def validate_search(
    *,
    query: str,
    categories: Sequence[str],
    types: Sequence[ItemType],
    min_price_points: int,
    max_price_points: int | None,
    in_stock_only: bool,
    sort: SortOrder | None,
    include_unavailable: bool,
) -> SearchQuery:
    if len(query) > MAX_QUERY:
        raise InvalidArgument(f"query is longer than {MAX_QUERY} characters", field="query")
    if len(categories) > MAX_FILTER_VALUES:
        raise InvalidArgument(f"at most {MAX_FILTER_VALUES} categories", field="categories")
    for index, category in enumerate(categories):
        if not CATEGORY_PATTERN.match(category):
            raise InvalidArgument("not a category code", field=f"categories[{index}]")
    if not 0 <= min_price_points <= MAX_POINTS:
        raise InvalidArgument(
            f"min_price_points must be between 0 and {MAX_POINTS}", field="min_price_points"
        )
    if max_price_points is not None:
        if not 0 <= max_price_points <= MAX_POINTS:
            raise InvalidArgument(
                f"max_price_points must be between 0 and {MAX_POINTS}", field="max_price_points"
            )
        if max_price_points < min_price_points:
            raise InvalidArgument(
                "max_price_points must not be below min_price_points", field="max_price_points"
            )
    terms = tuple(query_terms(query))
    if sort is None:
        sort = SortOrder.RELEVANCE if terms else SortOrder.TITLE
    if sort is SortOrder.RELEVANCE and not terms:
        sort = SortOrder.TITLE  # nothing to be relevant to
    return SearchQuery(
        terms=terms,
        categories=tuple(sorted(set(categories))),
        types=tuple(sorted(set(types))),
        min_price_points=min_price_points,
        max_price_points=max_price_points,
        in_stock_only=in_stock_only,
        sort=sort,
        include_unavailable=include_unavailable,
    )
