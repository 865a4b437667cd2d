"""E-gift codes: each code in a pool is handed out once, ever, even under concurrency."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest

from runtime.errors import FailedPrecondition, InvalidArgument
from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, commands_pb2, items_pb2
from tests.catalog.helpers import create_item, key, reserve, rpc_error, stock_of
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def upload(
    stub: Stub, program: Program, sku: str, codes: list[str]
) -> catalog_pb2.UploadCodesResponse:
    response: catalog_pb2.UploadCodesResponse = await stub.UploadCodes(
        catalog_pb2.UploadCodesRequest(sku=sku, codes=codes, idempotency_key=key()),
        metadata=program.metadata(),
    )
    return response


async def commit(commands: CommandClient, program: Program, reservation_id: str) -> None:
    await commands.call(
        "catalog",
        "CommitReservation",
        commands_pb2.CommitReservationRequest(reservation_id=reservation_id, idempotency_key=key()),
        commands_pb2.CommitReservationResponse,
        program_id=program.program_id,
    )


async def issue(
    commands: CommandClient, program: Program, reservation_id: str, idempotency_key: str = ""
) -> list[str]:
    response = await commands.call(
        "catalog",
        "IssueCodes",
        commands_pb2.IssueCodesRequest(
            reservation_id=reservation_id, idempotency_key=idempotency_key or key()
        ),
        commands_pb2.IssueCodesResponse,
        program_id=program.program_id,
    )
    return [c.code for c in response.codes]


async def test_codes_are_given_out_once_under_concurrency(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "GIFT-500", stock=0, type=items_pb2.ITEM_TYPE_EGIFT)
    codes = [f"CODE-{i:03d}" for i in range(12)]
    uploaded = await upload(stub, program, "GIFT-500", codes)
    assert uploaded.added == 12
    assert uploaded.stock.available == 12
    reservations = [
        await reserve(commands, program, [("GIFT-500", 2)], member_id=f"m{i}") for i in range(6)
    ]
    for reservation in reservations:
        await commit(commands, program, reservation.reservation_id)
    issued = await asyncio.gather(
        *(issue(commands, program, r.reservation_id) for r in reservations)
    )
    every = [code for batch in issued for code in batch]
    assert all(len(batch) == 2 for batch in issued)
    assert sorted(every) == codes  # all 12, none twice
    # Asking again (concurrently, with new keys) returns the same codes, draws no new ones.
    again = await asyncio.gather(
        *(issue(commands, program, reservations[0].reservation_id) for _ in range(3))
    )
    assert all(batch == issued[0] for batch in again)
    stock = await stock_of(stub, program, "GIFT-500")
    assert (stock.on_hand, stock.codes_available) == (0, 0)


async def test_reupload_skips_known_codes_and_pool_limits_orders(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "GIFT-1K", stock=0, type=items_pb2.ITEM_TYPE_EGIFT)
    await upload(stub, program, "GIFT-1K", ["A1", "A2"])
    reservation = await reserve(commands, program, [("GIFT-1K", 2)])
    await commit(commands, program, reservation.reservation_id)
    given = await issue(commands, program, reservation.reservation_id)
    # A code given out can never come back, even if someone uploads it again.
    second = await upload(stub, program, "GIFT-1K", ["A1", "B1"])
    assert second.added == 1
    assert list(second.skipped) == ["A1"]
    with pytest.raises(FailedPrecondition) as caught:
        await reserve(commands, program, [("GIFT-1K", 2)])
    assert caught.value.reason == "OUT_OF_STOCK"
    last = await reserve(commands, program, [("GIFT-1K", 1)])
    await commit(commands, program, last.reservation_id)
    assert await issue(commands, program, last.reservation_id) == ["B1"]
    assert given == ["A1", "A2"]


async def test_codes_only_for_committed_reservations_and_bad_uploads_refused(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "GIFT-X", stock=0, type=items_pb2.ITEM_TYPE_EGIFT)
    await create_item(stub, program, "GOODS-X", stock=5)
    await upload(stub, program, "GIFT-X", ["X1"])
    reservation = await reserve(commands, program, [("GIFT-X", 1)])
    with pytest.raises(FailedPrecondition) as caught:
        await issue(commands, program, reservation.reservation_id)
    assert caught.value.reason == "RESERVATION_NOT_COMMITTED"
    with pytest.raises(InvalidArgument):
        await issue(commands, program, "")
    for sku, codes, field in [
        ("GIFT-X", ["Y1", "Y1"], "codes[1]"),
        ("GIFT-X", [""], "codes[0]"),
        ("GIFT-X", [], "codes"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await upload(stub, program, sku, codes)
        code, detail = rpc_error(bad)
        assert (code, detail.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)
    with pytest.raises(grpc.aio.AioRpcError) as not_egift:
        await upload(stub, program, "GOODS-X", ["Z1"])
    assert rpc_error(not_egift)[1].reason == "NOT_AN_EGIFT_ITEM"
    assert (await stock_of(stub, program, "GIFT-X")).codes_available == 1
