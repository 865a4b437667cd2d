"""CSV import (all rows or none, replayable) and export (streamed, re-importable)."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from runtime.auth import Role
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from tests.catalog.helpers import create_item, import_csv, key, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub

GOOD = (
    "sku,title,description,category,type,price_points,image_urls,max_per_member,initial_stock,"
    "unlimited_stock\n"
    'CSV-1,今治タオル,"ふわふわ, 2枚組",home,physical,2500,https://img.example.com/1.jpg,2,10,\n'
    "CSV-2,寄付: 森を守る,,charity,donation,1000,,,,true\n"
    "CSV-3,Amazon ギフト券 500円,,egift,egift,500,,,,\n"
)


async def export(stub: Stub, program: Program) -> str:
    pieces = [
        message.csv_chunk
        async for message in stub.ExportItems(
            catalog_pb2.ExportItemsRequest(), metadata=program.metadata()
        )
    ]
    return b"".join(pieces).decode()


async def all_skus(stub: Stub, program: Program) -> list[str]:
    response: catalog_pb2.SearchItemsResponse = await stub.SearchItems(
        catalog_pb2.SearchItemsRequest(include_unavailable=True), metadata=program.metadata()
    )
    return sorted(item.sku for item in response.items)


async def test_import_export_round_trip(stub: Stub, program: Program) -> None:
    idempotency_key = key()
    first = await import_csv(stub, program, Role.ADMIN, GOOD, idempotency_key=idempotency_key)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    replay = await import_csv(stub, program, Role.ADMIN, GOOD, idempotency_key=idempotency_key)
    assert replay == first
    towel: catalog_pb2.GetItemResponse = await stub.GetItem(
        catalog_pb2.GetItemRequest(sku="CSV-1"), metadata=program.metadata()
    )
    assert towel.item.description == "ふわふわ, 2枚組"
    assert towel.item.stock.on_hand == 10
    assert towel.item.max_per_member == 2

    exported = await export(stub, program)
    lines = exported.splitlines()
    assert lines[0].startswith("sku,title,description,category,type,price_points")
    assert [line.split(",")[0] for line in lines[1:]] == ["CSV-1", "CSV-2", "CSV-3"]
    # The export imports back unchanged, and an edit in it updates just that item.
    again = await import_csv(stub, program, Role.ADMIN, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    edited = exported.replace("今治タオル", "今治タオル 3枚組")
    changed = await import_csv(stub, program, Role.ADMIN, edited)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "sku,title,type,price_points\nOK-1,fine,physical,100\nOK-2,bad,physical,-5\n",
            "csv[3].price_points",
        ),
        ("sku,title,type,price_points\nOK-1,fine,physical,100\n,no sku,physical,5\n", "csv[3].sku"),
        ("sku,title,type,price_points\nOK-1,fine,physical,ten\n", "csv[2].price_points"),
        ("sku,title,type,price_points\nOK-1,fine,spaceship,10\n", "csv[2].type"),
        ("sku,title,type,price_points\nOK-1,a,physical,1\nOK-1,b,physical,1\n", "csv[3].sku"),
        ("sku,title,type,colour\nOK-1,a,physical,red\n", "csv[1][3]"),
        ("sku,title,type\nOK-1,a,physical\n", "csv[1]"),
        ("", "csv"),
    ],
)
async def test_a_bad_row_refuses_the_whole_file_naming_the_cell(
    stub: Stub, program: Program, text: str, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await import_csv(stub, program, Role.ADMIN, text)
    code, detail = rpc_error(caught)
    assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)
    assert await all_skus(stub, program) == []


async def test_import_cannot_change_an_items_type(stub: Stub, program: Program) -> None:
    await create_item(stub, program, "KEEP", price_points=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await import_csv(
            stub,
            program,
            Role.ADMIN,
            "sku,title,type,price_points\nNEW-1,new,physical,1\nKEEP,x,donation,10\n",
        )
    assert rpc_error(caught)[1].field == "csv[3].type"
    assert await all_skus(stub, program) == ["KEEP"]
