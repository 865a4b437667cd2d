"""Browse and search: Japanese substrings, filters, sorting, and paging that stays stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.auth import Role
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2
from tamaru.common.v1 import common_pb2
from tests.catalog.helpers import create_item, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def search(
    stub: Stub, program: Program, role: Role = Role.BACKEND, **fields: Any
) -> catalog_pb2.SearchItemsResponse:
    response: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(**fields), metadata=program.metadata(role)
    )
    return response


async def skus(stub: Stub, program: Program, **fields: Any) -> list[str]:
    return [item.sku for item in (await search(stub, program, **fields)).items]


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


async def test_search_finds_japanese_substrings_and_folds_width(
    stub: Stub, program: Program
) -> None:
    await create_item(stub, program, "JP-1", title="ドリップコーヒーセット", category="food")
    await create_item(
        stub, program, "JP-2", title="紅茶ギフト", description="香り高いコーヒー豆も少し"
    )
    await create_item(stub, program, "JP-3", title="今治タオル", category="home")
    await create_item(stub, program, "EN-1", title="ＰＲＥＭＩＵＭ Coffee Mug")
    assert await skus(stub, program, query="コーヒー") == ["JP-1", "JP-2"]  # title match first
    # Half-width katakana and full-width Latin match their usual forms.
    assert await skus(stub, program, query="ｺｰﾋｰ") == ["JP-1", "JP-2"]
    assert await skus(stub, program, query="premium") == ["EN-1"]
    assert await skus(stub, program, query="タオル") == ["JP-3"]
    # Every word must match (a full-width space separates words too).
    assert await skus(stub, program, query="コーヒー　セット") == ["JP-1"]
    # LIKE wildcards in a query are plain characters.
    assert await skus(stub, program, query="%") == []


async def test_filters_by_category_type_price_and_stock(stub: Stub, program: Program) -> None:
    await create_item(stub, program, "F-1", category="food", price_points=500)
    await create_item(stub, program, "F-2", category="food", price_points=3000, stock=0)
    await create_item(
        stub,
        program,
        "V-1",
        category="travel",
        price_points=20000,
        type=items_pb2.ITEM_TYPE_EXPERIENCE,
        unlimited=True,
        stock=0,
    )
    assert await skus(stub, program, categories=["food"]) == ["F-1", "F-2"]
    assert await skus(stub, program, types=[items_pb2.ITEM_TYPE_EXPERIENCE]) == ["V-1"]
    assert await skus(stub, program, min_price_points=1000, max_price_points=5000) == ["F-2"]
    assert await skus(stub, program, in_stock_only=True) == ["F-1", "V-1"]
    assert await skus(stub, program, sort=catalog_pb2.SORT_ORDER_PRICE_DESCENDING) == [
        "V-1",
        "F-2",
        "F-1",
    ]


async def test_members_see_only_what_can_be_ordered_now(stub: Stub, program: Program) -> None:
    now = datetime.now(UTC)
    await create_item(stub, program, "NOW")
    await create_item(stub, program, "LATER", available_from=stamp(now + timedelta(days=1)))
    await create_item(
        stub,
        program,
        "OVER",
        available_until=stamp(now - timedelta(seconds=1)),
        available_from=stamp(now - timedelta(days=2)),
    )
    await create_item(stub, program, "HIDDEN", status=items_pb2.ITEM_STATUS_INACTIVE)
    assert await skus(stub, program) == ["NOW"]
    everything = await search(stub, program, Role.ADMIN, include_unavailable=True)
    assert sorted(item.sku for item in everything.items) == ["HIDDEN", "LATER", "NOW", "OVER"]


@pytest.mark.parametrize(
    "sort",
    [
        catalog_pb2.SORT_ORDER_TITLE,
        catalog_pb2.SORT_ORDER_PRICE_ASCENDING,
        catalog_pb2.SORT_ORDER_PRICE_DESCENDING,
        catalog_pb2.SORT_ORDER_NEWEST,
        catalog_pb2.SORT_ORDER_RELEVANCE,
    ],
)
async def test_paging_is_stable_while_items_are_added(
    stub: Stub, program: Program, sort: int
) -> None:
    for index in range(23):
        # Repeated titles and prices make the tie-breaker matter.
        await create_item(
            stub,
            program,
            f"P-{index:02d}",
            title=f"ギフト {index % 4}",
            price_points=100 * (index % 5),
        )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await search(
            stub,
            program,
            query="ギフト",
            sort=sort,
            page=common_pb2.PageRequest(page_size=5, page_token=token),
        )
        seen += [item.sku for item in page.items]
        pages += 1
        if pages == 2:
            # Added mid-listing: never a duplicate or a gap among the items already there.
            await create_item(stub, program, f"NEW-{sort}", title="ギフト 9", price_points=50)
        token = page.page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert {f"P-{i:02d}" for i in range(23)} <= set(seen)
    assert pages >= 5


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"page": common_pb2.PageRequest(page_size=10_000)}, "page.page_size"),
        ({"page": common_pb2.PageRequest(page_size=-1)}, "page.page_size"),
        ({"page": common_pb2.PageRequest(page_token="garbage!")}, "page.page_token"),
        ({"min_price_points": -1}, "min_price_points"),
        ({"min_price_points": 500, "max_price_points": 100}, "max_price_points"),
        ({"types": [99]}, "types[0]"),
        ({"query": "x" * 500}, "query"),
    ],
)
async def test_bad_search_names_the_field(
    stub: Stub, program: Program, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await search(stub, program, **fields)
    code, detail = rpc_error(caught)
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)


async def test_page_token_is_bound_to_its_query(stub: Stub, program: Program) -> None:
    for index in range(3):
        await create_item(stub, program, f"T-{index}", title=f"タオル {index}")
    first = await search(stub, program, query="タオル", page=common_pb2.PageRequest(page_size=1))
    assert first.page.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await search(
            stub,
            program,
            query="コーヒー",
            page=common_pb2.PageRequest(page_size=1, page_token=first.page.next_page_token),
        )
    assert rpc_error(caught)[1].field == "page.page_token"
