"""Shipping quotes from the program's config: free by default, surcharges, no delivery."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.errors import FailedPrecondition, InvalidArgument
from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2, shipping_pb2
from tests.catalog.conftest import new_program
from tests.catalog.helpers import create_item, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub

SHIPPING = {
    "useSharedCatalog": False,
    "shipping": {
        "defaultFeePoints": 0,
        "regions": [
            {"region": "JP-01", "feePoints": 800},
            {"region": "JP-47", "deliverable": False},
            {
                "region": "remote-islands",
                "postalCodePrefixes": ["1001"],
                "deliverable": False,
            },
            {"region": "sado", "postalCodePrefixes": ["952"], "feePoints": 1500},
        ],
    },
}


@pytest.fixture
async def shipping_program(js: JetStreamContext, stub: Stub) -> Program:
    program = await new_program(js, catalog=SHIPPING)
    await create_item(stub, program, "BOX", shipping_fee_points=100)
    await create_item(stub, program, "ECODE", type=items_pb2.ITEM_TYPE_EGIFT, stock=0)
    return program


async def quote(
    commands: CommandClient,
    program: Program,
    lines: list[tuple[str, int]],
    prefecture: str,
    postal_code: str = "",
) -> shipping_pb2.QuoteShippingResponse:
    return await commands.call(
        "catalog",
        "QuoteShipping",
        shipping_pb2.QuoteShippingRequest(
            lines=[items_pb2.ItemLine(sku=s, quantity=q) for s, q in lines],
            prefecture=prefecture,
            postal_code=postal_code,
        ),
        shipping_pb2.QuoteShippingResponse,
        program_id=program.program_id,
    )


async def test_fees_by_region_plus_per_item_fees(
    shipping_program: Program, commands: CommandClient
) -> None:
    tokyo = await quote(commands, shipping_program, [("BOX", 2)], "13", "150-0001")
    assert (tokyo.fee_points, tokyo.region_fee_points, tokyo.item_fee_points) == (200, 0, 200)
    assert tokyo.prefecture.name_ja == "東京都"
    hokkaido = await quote(commands, shipping_program, [("BOX", 1)], "JP-01")
    assert (hokkaido.fee_points, hokkaido.region) == (900, "JP-01")
    sado = await quote(commands, shipping_program, [("BOX", 1)], "15", "9520000")
    assert (sado.fee_points, sado.region) == (1600, "sado")


async def test_not_deliverable_regions_are_refused(
    shipping_program: Program, commands: CommandClient
) -> None:
    with pytest.raises(FailedPrecondition) as okinawa:
        await quote(commands, shipping_program, [("BOX", 1)], "47", "900-0001")
    assert (okinawa.value.reason, okinawa.value.field) == ("NOT_DELIVERABLE", "prefecture")
    # An island under Tokyo (by postal code) is refused though Tokyo itself is fine.
    with pytest.raises(FailedPrecondition) as island:
        await quote(commands, shipping_program, [("BOX", 1)], "JP-13", "100-1101")
    assert (island.value.reason, island.value.field) == ("NOT_DELIVERABLE", "postal_code")
    # Codes travel by e-mail: no shipping needed, anywhere.
    codes_only = await quote(commands, shipping_program, [("ECODE", 1)], "47")
    assert (codes_only.shipping_required, codes_only.fee_points) == (False, 0)


async def test_bad_addresses_name_the_field(
    shipping_program: Program, commands: CommandClient
) -> None:
    for prefecture, postal, field in [
        ("48", "", "prefecture"),
        ("", "", "prefecture"),
        ("13", "12345", "postal_code"),
    ]:
        with pytest.raises(InvalidArgument) as caught:
            await quote(commands, shipping_program, [("BOX", 1)], prefecture, postal)
        assert caught.value.field == field


async def test_grpc_quote_and_region_table(shipping_program: Program, stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.QuoteShipping(
            shipping_pb2.QuoteShippingRequest(
                lines=[items_pb2.ItemLine(sku="BOX", quantity=1)], prefecture="JP-47"
            ),
            metadata=shipping_program.metadata(Role.BACKEND),
        )
    code, detail = rpc_error(caught)
    assert (code, detail.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_DELIVERABLE")
    table: catalog_pb2.ListShippingRegionsResponse = await stub.ListShippingRegions(
        catalog_pb2.ListShippingRegionsRequest(), metadata=shipping_program.metadata(Role.READONLY)
    )
    assert len(table.prefectures) == 47
    by_code = {r.prefecture.jis_code: r for r in table.prefectures}
    assert by_code["47"].deliverable is False
    assert by_code["01"].fee_points == 800
    assert by_code["13"].fee_points == 0
    assert {r.region for r in table.postal_code_regions} == {"remote-islands", "sado"}
