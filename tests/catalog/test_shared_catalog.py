"""The platform's shared catalog: imported by CSV under the platform role, seen by every
program that uses it, minus its excluded SKUs; a program's own item shadows a shared SKU."""

from __future__ import annotations

import uuid

import grpc
import grpc.aio
import pytest
from nats.js import JetStreamContext

from runtime.auth import Role, generate_api_key
from runtime.errors import NotFound
from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from tests.catalog.conftest import new_program
from tests.catalog.helpers import create_item, import_csv, key, reserve, rpc_error
from tests.support.services import ALL_ROLES, create_program
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def platform_program(js: JetStreamContext) -> Program:
    """A program holding a platform-role key (as the operator's tooling would)."""
    program_id = f"plat{uuid.uuid4().hex[:8]}"
    keys = {role: generate_api_key(program_id, role) for role in (*ALL_ROLES, Role.PLATFORM)}
    return await create_program(
        js, ["catalog"], program_id=program_id, keys=keys, catalog={"useSharedCatalog": False}
    )


async def visible_skus(stub: Stub, program: Program, prefix: str) -> list[str]:
    response: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(query=prefix), metadata=program.metadata(Role.BACKEND)
    )
    return sorted(item.sku for item in response.items)


async def test_shared_items_excluded_skus_and_own_items(
    js: JetStreamContext, stub: Stub, commands: CommandClient
) -> None:
    tag = f"SH{uuid.uuid4().hex[:6].upper()}"
    platform = await platform_program(js)
    imported = await import_csv(
        stub,
        platform,
        Role.PLATFORM,
        "sku,title,type,price_points,initial_stock\n"
        f"{tag}-A,{tag} 和牛ギフト,physical,30000,5\n"
        f"{tag}-B,{tag} ビール詰め合わせ,physical,4000,5\n"
        f"{tag}-C,{tag} 旅行券,experience,50000,2\n",
    )
    assert (imported.created, imported.updated) == (3, 0)

    uses_shared = await new_program(
        js, catalog={"useSharedCatalog": True, "excludedSkus": [f"{tag}-B"]}
    )
    opted_out = await new_program(js)
    assert await visible_skus(stub, uses_shared, tag) == [f"{tag}-A", f"{tag}-C"]
    assert await visible_skus(stub, opted_out, tag) == []

    # The excluded SKU is invisible by sku too, and cannot be reserved.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetItem(
            catalog_pb2.GetItemRequest(sku=f"{tag}-B"), metadata=uses_shared.metadata(Role.BACKEND)
        )
    assert rpc_error(caught)[0] == grpc.StatusCode.NOT_FOUND
    with pytest.raises(NotFound):
        await reserve(commands, uses_shared, [(f"{tag}-B", 1)])

    # Shared items are read-only for programs, and reservable from their shared stock.
    shared: catalog_pb2.GetItemResponse = await stub.GetItem(
        catalog_pb2.GetItemRequest(sku=f"{tag}-A"), metadata=uses_shared.metadata(Role.BACKEND)
    )
    assert shared.item.shared
    with pytest.raises(grpc.aio.AioRpcError) as read_only:
        await stub.DeleteItem(
            catalog_pb2.DeleteItemRequest(sku=f"{tag}-A", idempotency_key=key()),
            metadata=uses_shared.metadata(),
        )
    assert rpc_error(read_only)[0] == grpc.StatusCode.NOT_FOUND
    reservation = await reserve(commands, uses_shared, [(f"{tag}-A", 2)])
    assert reservation.total_points == 60000

    # A program's own item with a shared SKU shadows the shared one for that program only.
    await create_item(stub, uses_shared, f"{tag}-C", title=f"{tag} 自社旅行券", price_points=100)
    own: catalog_pb2.GetItemResponse = await stub.GetItem(
        catalog_pb2.GetItemRequest(sku=f"{tag}-C"), metadata=uses_shared.metadata(Role.BACKEND)
    )
    assert (own.item.shared, own.item.price_points) == (False, 100)
    assert await visible_skus(stub, uses_shared, tag) == [f"{tag}-A", f"{tag}-C"]


async def test_only_the_platform_role_writes_the_shared_catalog(
    js: JetStreamContext, stub: Stub
) -> None:
    tag = f"SX{uuid.uuid4().hex[:6].upper()}"
    platform = await platform_program(js)
    # The same import with the program's admin key creates the program's own items instead.
    mine = await import_csv(
        stub, platform, Role.ADMIN, f"sku,title,type,price_points\n{tag}-1,{tag},physical,10\n"
    )
    assert mine.created == 1
    viewer = await new_program(js, catalog={"useSharedCatalog": True})
    assert await visible_skus(stub, viewer, tag) == []
