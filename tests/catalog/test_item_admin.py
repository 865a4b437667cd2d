"""Admin CRUD: items are created, read, updated and archived; bad input names the field and
changes nothing; retries replay by idempotency key."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.auth import Role
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2
from tests.catalog.helpers import create_item, draft, key, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def get_item(
    stub: Stub, program: Program, sku: str, role: Role = Role.ADMIN
) -> items_pb2.Item:
    response: catalog_pb2.GetItemResponse = await stub.GetItem(
        catalog_pb2.GetItemRequest(sku=sku), metadata=program.metadata(role)
    )
    return response.item


async def listed_skus(stub: Stub, program: Program) -> list[str]:
    response: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(include_unavailable=True),
        metadata=program.metadata(Role.ADMIN),
    )
    return [item.sku for item in response.items]


async def test_create_get_update_archive(stub: Stub, program: Program) -> None:
    created = await create_item(
        stub,
        program,
        "COFFEE-1",
        stock=7,
        title="ドリップコーヒーセット",
        category="food",
        image_urls=["https://img.example.com/coffee.jpg"],
        max_per_member=3,
    )
    assert created.sku == "COFFEE-1"
    assert created.stock.on_hand == 7
    assert created.status == items_pb2.ITEM_STATUS_ACTIVE
    assert not created.shared
    fetched = await get_item(stub, program, "COFFEE-1", Role.BACKEND)
    assert fetched.title == "ドリップコーヒーセット"
    assert list(fetched.image_urls) == ["https://img.example.com/coffee.jpg"]

    updated: catalog_pb2.UpdateItemResponse = await stub.UpdateItem(
        catalog_pb2.UpdateItemRequest(
            item=draft("COFFEE-1", title="ドリップコーヒー 10袋", price_points=1200),
            idempotency_key=key(),
        ),
        metadata=program.metadata(),
    )
    assert updated.item.title == "ドリップコーヒー 10袋"
    assert updated.item.price_points == 1200
    assert updated.item.stock.on_hand == 7  # stock is not an item field

    deleted: catalog_pb2.DeleteItemResponse = await stub.DeleteItem(
        catalog_pb2.DeleteItemRequest(sku="COFFEE-1", idempotency_key=key()),
        metadata=program.metadata(),
    )
    assert deleted.item.status == items_pb2.ITEM_STATUS_ARCHIVED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_item(stub, program, "COFFEE-1", Role.BACKEND)
    assert rpc_error(caught)[0] == grpc.StatusCode.NOT_FOUND
    # Admins still see it, archived; it can never be edited again.
    assert (await get_item(stub, program, "COFFEE-1")).status == items_pb2.ITEM_STATUS_ARCHIVED
    with pytest.raises(grpc.aio.AioRpcError) as archived:
        await stub.UpdateItem(
            catalog_pb2.UpdateItemRequest(item=draft("COFFEE-1"), idempotency_key=key()),
            metadata=program.metadata(),
        )
    assert rpc_error(archived)[1].reason == "ITEM_ARCHIVED"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price_points": -1}, "item.price_points"),
        ({"sku": ""}, "item.sku"),
        ({"sku": "has space"}, "item.sku"),
        ({"title": "  "}, "item.title"),
        ({"type": items_pb2.ITEM_TYPE_UNSPECIFIED}, "item.type"),
        ({"image_urls": ["http://insecure.example.com/a.png"]}, "item.image_urls[0]"),
        ({"shipping_fee_points": -5}, "item.shipping_fee_points"),
        ({"category": "bad category!"}, "item.category"),
        (
            {
                "available_from": Timestamp(seconds=2_000_000_000),
                "available_until": Timestamp(seconds=1_900_000_000),
            },
            "item.available_until",
        ),
    ],
)
async def test_bad_item_is_refused_naming_the_field_and_nothing_changes(
    stub: Stub, program: Program, fields: dict[str, Any], field: str
) -> None:
    values = {"sku": "BAD-1", **fields}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateItem(
            catalog_pb2.CreateItemRequest(item=draft(**values), idempotency_key=key()),
            metadata=program.metadata(),
        )
    code, detail = rpc_error(caught)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert detail.field == field
    assert await listed_skus(stub, program) == []


async def test_create_without_idempotency_key_or_with_bad_stock_is_refused(
    stub: Stub, program: Program
) -> None:
    requests = [
        (catalog_pb2.CreateItemRequest(item=draft("S-1")), "idempotency_key"),
        (
            catalog_pb2.CreateItemRequest(
                item=draft("S-1"), initial_stock=-1, idempotency_key=key()
            ),
            "initial_stock",
        ),
        (
            catalog_pb2.CreateItemRequest(
                item=draft("S-1", type=items_pb2.ITEM_TYPE_EGIFT),
                initial_stock=5,
                idempotency_key=key(),
            ),
            "initial_stock",
        ),
    ]
    for request, field in requests:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateItem(request, metadata=program.metadata())
        code, detail = rpc_error(caught)
        assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)
    assert await listed_skus(stub, program) == []


async def test_create_replays_by_key_and_duplicate_sku_is_refused(
    stub: Stub, program: Program
) -> None:
    request = catalog_pb2.CreateItemRequest(
        item=draft("ONCE-1"), initial_stock=4, idempotency_key=key()
    )
    first: catalog_pb2.CreateItemResponse = await stub.CreateItem(
        request, metadata=program.metadata()
    )
    again: catalog_pb2.CreateItemResponse = await stub.CreateItem(
        request, metadata=program.metadata()
    )
    assert again == first
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create_item(stub, program, "ONCE-1")
    code, detail = rpc_error(caught)
    assert (code, detail.reason, detail.field) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "SKU_EXISTS",
        "item.sku",
    )
    assert await listed_skus(stub, program) == ["ONCE-1"]


async def test_type_never_changes(stub: Stub, program: Program) -> None:
    await create_item(stub, program, "TYPED")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UpdateItem(
            catalog_pb2.UpdateItemRequest(
                item=draft("TYPED", type=items_pb2.ITEM_TYPE_DONATION), idempotency_key=key()
            ),
            metadata=program.metadata(),
        )
    code, detail = rpc_error(caught)
    assert (code, detail.reason, detail.field) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TYPE_IMMUTABLE",
        "item.type",
    )


async def test_adjust_stock_never_below_reserved_and_needs_a_reason(
    stub: Stub, program: Program
) -> None:
    await create_item(stub, program, "ADJ", stock=5)
    adjusted: catalog_pb2.AdjustStockResponse = await stub.AdjustStock(
        catalog_pb2.AdjustStockRequest(
            sku="ADJ", delta=3, reason="delivery", idempotency_key=key()
        ),
        metadata=program.metadata(),
    )
    assert adjusted.stock.on_hand == 8
    for request, field in [
        (catalog_pb2.AdjustStockRequest(sku="ADJ", delta=-9, reason="lost"), "delta"),
        (catalog_pb2.AdjustStockRequest(sku="ADJ", delta=0, reason="nothing"), "delta"),
        (catalog_pb2.AdjustStockRequest(sku="ADJ", delta=1, reason=""), "reason"),
    ]:
        request.idempotency_key = key()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.AdjustStock(request, metadata=program.metadata())
        assert rpc_error(caught)[1].field == field
    stock: catalog_pb2.GetStockResponse = await stub.GetStock(
        catalog_pb2.GetStockRequest(sku="ADJ"), metadata=program.metadata()
    )
    assert stock.stock.on_hand == 8
