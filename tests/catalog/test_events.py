"""What catalog announces, through the outbox, on tamaru.evt.<program>.catalog.<event>."""

from __future__ import annotations

from nats.js import JetStreamContext

from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, commands_pb2, events_pb2
from tests.catalog.helpers import create_item, draft, events_of, key, reserve
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def test_item_stock_and_reservation_events(
    js: JetStreamContext, stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "EVT", stock=3, low_stock_threshold=2)
    await stub.UpdateItem(
        catalog_pb2.UpdateItemRequest(
            item=draft("EVT", title="renamed", low_stock_threshold=2),
            idempotency_key=key(),
        ),
        metadata=program.metadata(),
    )
    first = await reserve(commands, program, [("EVT", 2)])
    second = await reserve(commands, program, [("EVT", 1)])
    await commands.call(
        "catalog",
        "CommitReservation",
        commands_pb2.CommitReservationRequest(
            reservation_id=first.reservation_id, idempotency_key=key()
        ),
        commands_pb2.CommitReservationResponse,
        program_id=program.program_id,
    )
    await commands.call(
        "catalog",
        "ReleaseReservation",
        commands_pb2.ReleaseReservationRequest(
            reservation_id=second.reservation_id, idempotency_key=key()
        ),
        commands_pb2.ReleaseReservationResponse,
        program_id=program.program_id,
    )
    await stub.RequestItem(
        catalog_pb2.RequestItemRequest(member_id="m1", title="もっと", idempotency_key=key()),
        metadata=program.metadata(),
    )
    expected = [
        "item_created",
        "item_updated",
        "stock_low",
        "stock_reserved",
        "stock_reserved",
        "reservation_committed",
        "reservation_released",
        "item_requested",
    ]
    got = await events_of(js, program.program_id, len(expected))
    assert sorted(e.event_type for e in got) == sorted(expected)
    by_type = {e.event_type: e for e in got}
    committed = events_pb2.ReservationCommitted.FromString(by_type["reservation_committed"].payload)
    assert committed.reservation.reservation_id == first.reservation_id
    assert committed.reservation.status == commands_pb2.RESERVATION_STATUS_COMMITTED
    low = events_pb2.StockLow.FromString(by_type["stock_low"].payload)
    assert (low.stock.available, low.low_stock_threshold) == (1, 2)
    assert by_type["item_updated"].payload_type == "tamaru.catalog.v1.ItemUpdated"
