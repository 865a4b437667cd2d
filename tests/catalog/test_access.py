"""Who may call what, and tenant isolation: a program's key never reaches another's items."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from nats.js import JetStreamContext

from runtime.auth import Role
from services.catalog.entrypoints.policy import POLICY, SERVICE
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from tests.catalog.conftest import new_program
from tests.catalog.helpers import create_item, draft, key, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


def test_policy_lists_every_method() -> None:
    assert POLICY.missing_methods(SERVICE) == []


async def test_readonly_cannot_create_items_and_granter_cannot_browse(
    stub: Stub, program: Program
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create_item(stub, program, "RO-1", role=Role.READONLY)
    assert rpc_error(caught)[0] == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as granter:
        await stub.SearchItems(
            catalog_pb2.SearchItemsRequest(), metadata=program.metadata(Role.GRANTER)
        )
    assert rpc_error(granter)[0] == grpc.StatusCode.PERMISSION_DENIED
    # Readonly browses; backend may not ask for unavailable items.
    listed: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(), metadata=program.metadata(Role.READONLY)
    )
    assert list(listed.items) == []
    with pytest.raises(grpc.aio.AioRpcError) as backend:
        await stub.SearchItems(
            catalog_pb2.SearchItemsRequest(include_unavailable=True),
            metadata=program.metadata(Role.BACKEND),
        )
    code, detail = rpc_error(backend)
    assert (code, detail.field) == (grpc.StatusCode.PERMISSION_DENIED, "include_unavailable")


async def test_another_programs_key_can_neither_see_nor_change_items(
    js: JetStreamContext, stub: Stub, program: Program
) -> None:
    other = await new_program(js)
    await create_item(stub, program, "A-ONLY", stock=5, title="Program A's secret item")
    # Not visible to B, by sku or by search.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetItem(catalog_pb2.GetItemRequest(sku="A-ONLY"), metadata=other.metadata())
    assert rpc_error(caught)[0] == grpc.StatusCode.NOT_FOUND
    found: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(query="secret", include_unavailable=True),
        metadata=other.metadata(),
    )
    assert list(found.items) == []
    # Not changeable by B: updates, stock and deletes miss.
    for call in (
        stub.UpdateItem(
            catalog_pb2.UpdateItemRequest(
                item=draft("A-ONLY", title="hacked"), idempotency_key=key()
            ),
            metadata=other.metadata(),
        ),
        stub.AdjustStock(
            catalog_pb2.AdjustStockRequest(
                sku="A-ONLY", delta=-5, reason="x", idempotency_key=key()
            ),
            metadata=other.metadata(),
        ),
        stub.DeleteItem(
            catalog_pb2.DeleteItemRequest(sku="A-ONLY", idempotency_key=key()),
            metadata=other.metadata(),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call
        assert rpc_error(denied)[0] == grpc.StatusCode.NOT_FOUND
    # B may create its own item with the same sku; A's stays as it was.
    await create_item(stub, other, "A-ONLY", stock=1, title="B's own")
    mine: catalog_pb2.GetItemResponse = await stub.GetItem(
        catalog_pb2.GetItemRequest(sku="A-ONLY"), metadata=program.metadata()
    )
    assert mine.item.title == "Program A's secret item"
    assert mine.item.stock.on_hand == 5
