"""Rules the database itself enforces, whatever code runs against it: a settled reservation
never changes again, a given-out code is never given out again, stock never oversells."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from runtime.messaging.commands import CommandClient
from runtime.service import ServiceApp
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, commands_pb2, items_pb2
from tests.catalog.helpers import create_item, key, reserve
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def execute(catalog: ServiceApp, sql: str, **params: object) -> None:
    assert catalog.ctx is not None
    async with catalog.ctx.session_factory() as session:
        await session.execute(text(sql), params)
        await session.commit()


async def test_settled_reservation_and_issued_code_are_final(
    catalog: ServiceApp, stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "DB-GIFT", stock=0, type=items_pb2.ITEM_TYPE_EGIFT)
    await stub.UploadCodes(
        catalog_pb2.UploadCodesRequest(sku="DB-GIFT", codes=["Q1"], idempotency_key=key()),
        metadata=program.metadata(),
    )
    reservation = await reserve(commands, program, [("DB-GIFT", 1)])
    await commands.call(
        "catalog",
        "CommitReservation",
        commands_pb2.CommitReservationRequest(
            reservation_id=reservation.reservation_id, idempotency_key=key()
        ),
        commands_pb2.CommitReservationResponse,
        program_id=program.program_id,
    )
    await commands.call(
        "catalog",
        "IssueCodes",
        commands_pb2.IssueCodesRequest(
            reservation_id=reservation.reservation_id, idempotency_key=key()
        ),
        commands_pb2.IssueCodesResponse,
        program_id=program.program_id,
    )
    with pytest.raises(DBAPIError, match="already committed"):
        await execute(
            catalog,
            "UPDATE stock_reservations SET status = 'released' WHERE reservation_id = :id",
            id=reservation.reservation_id,
        )
    with pytest.raises(DBAPIError, match="already given out"):
        await execute(
            catalog,
            "UPDATE gift_codes SET status = 'available', reservation_id = NULL WHERE code = 'Q1'",
        )
    with pytest.raises(DBAPIError, match="already given out"):
        await execute(catalog, "DELETE FROM gift_codes WHERE code = 'Q1'")


async def test_stock_can_never_be_oversold(
    catalog: ServiceApp, stub: Stub, program: Program
) -> None:
    item = await create_item(stub, program, "DB-STOCK", stock=2)
    with pytest.raises(IntegrityError, match="reserved_within_on_hand"):
        await execute(
            catalog,
            "UPDATE items SET reserved = 3 WHERE program_id = :p AND sku = :s",
            p=program.program_id,
            s=item.sku,
        )
