"""Reserving stock for orders (the catalog half of "20 concurrent orders for the last 3 units"),
settling each reservation exactly once, and giving stock back when a reservation times out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext

from runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2_grpc, commands_pb2, events_pb2
from tests.catalog.conftest import new_program
from tests.catalog.helpers import create_item, events_of, key, reserve, stock_of
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def settle(
    commands: CommandClient,
    program: Program,
    method: str,
    reservation_id: str,
    idempotency_key: str | None = None,
) -> commands_pb2.Reservation:
    if method == "CommitReservation":
        request: commands_pb2.CommitReservationRequest | commands_pb2.ReleaseReservationRequest = (
            commands_pb2.CommitReservationRequest(
                reservation_id=reservation_id, idempotency_key=idempotency_key or key()
            )
        )
        response_type: type[
            commands_pb2.CommitReservationResponse | commands_pb2.ReleaseReservationResponse
        ] = commands_pb2.CommitReservationResponse
    else:
        request = commands_pb2.ReleaseReservationRequest(
            reservation_id=reservation_id,
            reason="payment failed",
            idempotency_key=idempotency_key or key(),
        )
        response_type = commands_pb2.ReleaseReservationResponse
    response = await commands.call(
        "catalog", method, request, response_type, program_id=program.program_id
    )
    return response.reservation


async def test_twenty_concurrent_orders_for_the_last_three_units(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "LAST-3", stock=3, price_points=500)
    results = await asyncio.gather(
        *(reserve(commands, program, [("LAST-3", 1)], member_id=f"m{i}") for i in range(20)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, commands_pb2.Reservation)]
    lost = [r for r in results if isinstance(r, FailedPrecondition)]
    assert len(won) == 3
    assert len(lost) == 17
    assert {(e.reason, e.field) for e in lost} == {("OUT_OF_STOCK", "lines[0].sku")}
    assert all("LAST-3" in e.message for e in lost)
    stock = await stock_of(stub, program, "LAST-3")
    assert (stock.on_hand, stock.reserved, stock.available) == (3, 3, 0)
    assert {r.lines[0].unit_price_points for r in won} == {500}


async def test_reservation_is_all_or_nothing(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "PLENTY", stock=10)
    await create_item(stub, program, "SCARCE", stock=1)
    with pytest.raises(FailedPrecondition) as caught:
        await reserve(commands, program, [("PLENTY", 2), ("SCARCE", 2)])
    assert caught.value.reason == "OUT_OF_STOCK"
    assert caught.value.field == "lines[1].sku"
    assert (await stock_of(stub, program, "PLENTY")).reserved == 0
    with pytest.raises(NotFound) as missing:
        await reserve(commands, program, [("PLENTY", 1), ("NO-SUCH", 1)])
    assert missing.value.field == "lines[1].sku"
    assert (await stock_of(stub, program, "PLENTY")).reserved == 0


async def test_bad_reservation_requests_name_the_field(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "OK-1", stock=5)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lines": [("OK-1", 0)]}, "lines[0].quantity"),
        ({"lines": [("", 1)]}, "lines[0].sku"),
        ({"lines": [("OK-1", 1), ("OK-1", 1)]}, "lines[1].sku"),
        ({"lines": [("OK-1", 1)], "member_id": ""}, "member_id"),
        ({"lines": [("OK-1", 1)], "ttl_seconds": -5}, "ttl_seconds"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            await reserve(commands, program, **kwargs)
        assert caught.value.field == field
    assert (await stock_of(stub, program, "OK-1")).reserved == 0


async def test_commit_takes_units_out_and_settles_once(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "GOODS", stock=5)
    reservation = await reserve(commands, program, [("GOODS", 2)])
    commit_key = key()
    first = await settle(
        commands, program, "CommitReservation", reservation.reservation_id, commit_key
    )
    assert first.status == commands_pb2.RESERVATION_STATUS_COMMITTED
    stock = await stock_of(stub, program, "GOODS")
    assert (stock.on_hand, stock.reserved, stock.available) == (3, 0, 3)
    # A retry with the same key replays the first answer and changes nothing.
    again = await settle(
        commands, program, "CommitReservation", reservation.reservation_id, commit_key
    )
    assert again == first
    assert (await stock_of(stub, program, "GOODS")).on_hand == 3
    # Any other settle is refused: a reservation has one terminal state.
    for method in ("CommitReservation", "ReleaseReservation"):
        with pytest.raises(FailedPrecondition) as caught:
            await settle(commands, program, method, reservation.reservation_id)
        assert caught.value.reason == "RESERVATION_SETTLED"
    stock = await stock_of(stub, program, "GOODS")
    assert (stock.on_hand, stock.reserved) == (3, 0)


async def test_release_gives_units_back_once_and_commit_after_release_is_refused(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "BACK", stock=4)
    reservation = await reserve(commands, program, [("BACK", 3)])
    released = await settle(commands, program, "ReleaseReservation", reservation.reservation_id)
    assert released.status == commands_pb2.RESERVATION_STATUS_RELEASED
    assert released.release_reason == "payment failed"
    with pytest.raises(FailedPrecondition) as caught:
        await settle(commands, program, "CommitReservation", reservation.reservation_id)
    assert caught.value.reason == "RESERVATION_SETTLED"
    stock = await stock_of(stub, program, "BACK")
    assert (stock.on_hand, stock.reserved, stock.available) == (4, 0, 4)


async def test_concurrent_commit_and_release_only_one_wins(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "RACE", stock=10)
    reservations = [await reserve(commands, program, [("RACE", 1)]) for _ in range(5)]
    outcomes = await asyncio.gather(
        *(
            settle(commands, program, method, r.reservation_id)
            for r in reservations
            for method in ("CommitReservation", "ReleaseReservation", "CommitReservation")
        ),
        return_exceptions=True,
    )
    settled = [o for o in outcomes if isinstance(o, commands_pb2.Reservation)]
    refused = [o for o in outcomes if isinstance(o, FailedPrecondition)]
    assert len(settled) == 5
    assert len(refused) == 10
    committed = sum(o.status == commands_pb2.RESERVATION_STATUS_COMMITTED for o in settled)
    stock = await stock_of(stub, program, "RACE")
    assert (stock.on_hand, stock.reserved) == (10 - committed, 0)


async def test_reservation_expires_and_its_stock_comes_back(
    js: JetStreamContext, stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "TTL", stock=2)
    reservation = await reserve(commands, program, [("TTL", 2)], ttl_seconds=1)
    assert (await stock_of(stub, program, "TTL")).available == 0
    for _ in range(100):
        if (await stock_of(stub, program, "TTL")).available == 2:
            break
        await asyncio.sleep(0.1)
    stock = await stock_of(stub, program, "TTL")
    assert (stock.on_hand, stock.reserved, stock.available) == (2, 0, 2)
    with pytest.raises(FailedPrecondition) as caught:
        await settle(commands, program, "CommitReservation", reservation.reservation_id)
    assert caught.value.reason in ("RESERVATION_SETTLED", "RESERVATION_EXPIRED")
    # Once swept it is released for good, with the reason.
    with pytest.raises(FailedPrecondition) as again:
        await settle(commands, program, "ReleaseReservation", reservation.reservation_id)
    assert again.value.reason == "RESERVATION_SETTLED"
    assert "released" in again.value.message
    events = await events_of(js, program.program_id, 3)
    released = [e for e in events if e.event_type == "reservation_released"]
    assert len(released) == 1
    payload = events_pb2.ReservationReleased.FromString(released[0].payload).reservation
    assert (payload.reservation_id, payload.release_reason) == (
        reservation.reservation_id,
        "expired",
    )


async def test_reserve_replays_by_key_and_refuses_a_second_reservation_for_an_order(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "ONCE", stock=10)
    first = await reserve(commands, program, [("ONCE", 1)], order_id="o-1", idempotency_key="k1")
    again = await reserve(commands, program, [("ONCE", 1)], order_id="o-1", idempotency_key="k1")
    assert again.reservation_id == first.reservation_id
    with pytest.raises(AlreadyExists) as caught:
        await reserve(commands, program, [("ONCE", 1)], order_id="o-1")
    assert caught.value.field == "order_id"
    with pytest.raises(InvalidArgument) as reused:
        await reserve(commands, program, [("ONCE", 2)], order_id="o-1", idempotency_key="k1")
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert (await stock_of(stub, program, "ONCE")).reserved == 1


async def test_per_member_limit_counts_open_and_committed_reservations(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "LIMIT-2", stock=100, max_per_member=2)
    first = await reserve(commands, program, [("LIMIT-2", 1)], member_id="alice")
    await settle(commands, program, "CommitReservation", first.reservation_id)
    await reserve(commands, program, [("LIMIT-2", 1)], member_id="alice")
    with pytest.raises(FailedPrecondition) as caught:
        await reserve(commands, program, [("LIMIT-2", 1)], member_id="alice")
    assert caught.value.reason == "MEMBER_LIMIT_EXCEEDED"
    assert caught.value.field == "lines[0].quantity"
    # Concurrent orders by one member cannot both slip under the limit.
    results = await asyncio.gather(
        *(reserve(commands, program, [("LIMIT-2", 1)], member_id="bob") for _ in range(6)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, commands_pb2.Reservation) for r in results) == 2


async def test_reservations_are_scoped_to_their_program(
    js: JetStreamContext, stub: Stub, program: Program, commands: CommandClient
) -> None:
    other = await new_program(js)
    await create_item(stub, program, "MINE", stock=3)
    with pytest.raises(NotFound):
        await reserve(commands, other, [("MINE", 1)])
    reservation = await reserve(commands, program, [("MINE", 1)])
    with pytest.raises(NotFound) as caught:
        await settle(commands, other, "CommitReservation", reservation.reservation_id)
    assert caught.value.reason == "RESERVATION_NOT_FOUND"
    assert (await stock_of(stub, program, "MINE")).reserved == 1


async def test_closed_program_takes_no_new_reservations(
    js: JetStreamContext, stub: Stub, commands: CommandClient
) -> None:
    closed = await new_program(js, closed=True)
    with pytest.raises(FailedPrecondition) as caught:
        await reserve(commands, closed, [("ANY", 1)])
    assert caught.value.reason == "PROGRAM_CLOSED"


async def give_back(
    commands: CommandClient, program: Program, reservation_id: str, idempotency_key: str
) -> commands_pb2.Reservation:
    response = await commands.call(
        "catalog",
        "ReturnStock",
        commands_pb2.ReturnStockRequest(
            reservation_id=reservation_id, reason="order cancelled", idempotency_key=idempotency_key
        ),
        commands_pb2.ReturnStockResponse,
        program_id=program.program_id,
    )
    return response.reservation


async def test_a_committed_reservation_returns_its_units_once(
    js: JetStreamContext, stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "RETURNS", stock=5, max_per_member=2)
    reservation = await reserve(commands, program, [("RETURNS", 2)], member_id="m-1")
    rid = reservation.reservation_id
    # Open: only committed units can come back.
    with pytest.raises(FailedPrecondition) as caught:
        await give_back(commands, program, rid, key())
    assert caught.value.reason == "RESERVATION_NOT_COMMITTED"
    await settle(commands, program, "CommitReservation", rid)
    assert (await stock_of(stub, program, "RETURNS")).on_hand == 3

    return_key = key()
    returned = await give_back(commands, program, rid, return_key)
    assert returned.status == commands_pb2.RESERVATION_STATUS_RETURNED
    assert (returned.release_reason, returned.HasField("return_time")) == ("order cancelled", True)
    stock = await stock_of(stub, program, "RETURNS")
    assert (stock.on_hand, stock.reserved, stock.available) == (5, 0, 5)
    assert await give_back(commands, program, rid, return_key) == returned  # a replay
    with pytest.raises(FailedPrecondition) as caught:
        await give_back(commands, program, rid, key())
    assert caught.value.reason == "RESERVATION_SETTLED"
    for method in ("CommitReservation", "ReleaseReservation"):
        with pytest.raises(FailedPrecondition):
            await settle(commands, program, method, rid)
    assert (await stock_of(stub, program, "RETURNS")).on_hand == 5
    # Returned units no longer count against the member's limit of 2.
    again = await reserve(commands, program, [("RETURNS", 2)], member_id="m-1")
    assert again.status == commands_pb2.RESERVATION_STATUS_OPEN
    events = await events_of(js, program.program_id, 4)
    returned_events = [
        events_pb2.StockReturned.FromString(e.payload)
        for e in events
        if e.event_type == "stock_returned"
    ]
    assert [e.reservation.reservation_id for e in returned_events] == [rid]


async def test_returning_an_unknown_reservation_is_not_found(
    program: Program, commands: CommandClient
) -> None:
    with pytest.raises(NotFound):
        await give_back(commands, program, "no-such-reservation", key())


async def test_a_second_reservation_for_one_order_is_refused_and_changes_nothing(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "ONCE", stock=5)
    first = await reserve(commands, program, [("ONCE", 2)], order_id="order-once")
    with pytest.raises(AlreadyExists) as caught:  # a new key: not a retry of the first
        await reserve(commands, program, [("ONCE", 1)], order_id="order-once")
    assert (caught.value.reason, caught.value.field) == ("ORDER_ALREADY_RESERVED", "order_id")
    assert "order-once" in caught.value.message
    stock = await stock_of(stub, program, "ONCE")
    assert (stock.on_hand, stock.reserved) == (5, 2)
    assert first.order_id == "order-once"
