"""PlaceOrder: check the request, price the shipping, store the order and run its saga.

Nothing is held before the order is stored: bad input, an unknown member and an address the
program does not ship to are refused first. The order row (with its idempotency key, unique per
program) is the saga's state, so a retried request finds the same order, whatever state it is
in, and a request that raced another with the same key waits for it rather than duplicating it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction, run_read
from runtime.errors import IdempotencyKeyReused, InvalidArgument, TamaruError
from runtime.idempotency import request_fingerprint, require_key
from services.redeem.adapters.messages import order_to_proto
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.adapters.remote import Catalog
from services.redeem.domain.orders import (
    Address,
    LineRequest,
    Order,
    OrderKind,
    OrderStatus,
    validate_address,
    validate_lines,
)
from services.redeem.service_layer.saga_runner import SagaRunner, new_owner, now
from tamaru.redeem.v1 import events_pb2

# Catalog needs a prefecture to quote; an order without an address (e-gifts only) is quoted
# for this one just to learn that nothing is shipped.
PLACEHOLDER_PREFECTURE = "13"


@dataclass(frozen=True)
class PlaceOrder:
    program_id: str
    idempotency_key: str
    member_id: str
    lines: tuple[LineRequest, ...]
    address: Address | None
    payment_token: str
    kind: OrderKind = OrderKind.PURCHASE
    lottery_id: str = ""


def fingerprint(request: Message) -> str:
    return hashlib.sha256(request_fingerprint(request)).hexdigest()


def check(cmd: PlaceOrder) -> PlaceOrder:
    require_key(cmd.idempotency_key)
    validate_lines(cmd.lines)
    if cmd.address is not None:
        validate_address(cmd.address)
    if len(cmd.payment_token) > 255:
        raise InvalidArgument("payment_token is longer than 255 characters", field="payment_token")
    return cmd


async def quote_shipping(catalog: Catalog, cmd: PlaceOrder) -> int:
    address = cmd.address
    try:
        quote = await catalog.quote_shipping(
            cmd.lines,
            address.prefecture if address else PLACEHOLDER_PREFECTURE,
            address.postal_code if address else "",
        )
    except TamaruError as error:
        if error.field in ("prefecture", "postal_code"):
            error.field = f"shipping_address.{error.field}"
        raise
    if quote.shipping_required and address is None:
        raise InvalidArgument(
            "shipping_address is required: the order has goods to ship", field="shipping_address"
        )
    return quote.fee_points


def new_order(cmd: PlaceOrder, order_id: str, shipping_fee: int) -> Order:
    at = now()
    return Order(
        order_id=order_id,
        program_id=cmd.program_id,
        member_id=cmd.member_id,
        kind=cmd.kind,
        status=OrderStatus.PENDING,
        idempotency_key=cmd.idempotency_key,
        lines=cmd.lines,
        address=cmd.address,
        payment_token=cmd.payment_token,
        shipping_fee_points=shipping_fee,
        lottery_id=cmd.lottery_id,
        created_at=at,
        updated_at=at,
    )


async def store_order(runner: SagaRunner, order: Order, request_hash: str, owner: str) -> bool:
    """Insert the order leased to `owner` and announce it; False when the key exists."""

    async def work(uow: UnitOfWork) -> bool:
        stored = await OrderRepository(uow.session).insert(
            order, request_hash, owner, runner.options.lease
        )
        if stored:
            await uow.emit(
                order.program_id,
                "order_placed",
                events_pb2.OrderChanged(order=order_to_proto(order)),
                aggregate_id=order.order_id,
            )
        return stored

    return await run_in_transaction(runner.uow_factory, work)


async def existing_order(
    runner: SagaRunner, program_id: str, key: str, request_hash: str
) -> Order | None:
    found = await run_read(
        runner.uow_factory, lambda uow: OrderRepository(uow.session).by_key(program_id, key)
    )
    if found is None:
        return None
    order, stored_hash = found
    if stored_hash != request_hash:
        raise IdempotencyKeyReused(
            f"idempotency_key {key!r} was already used for a different order; use a new key "
            "for a new order",
            field="idempotency_key",
        )
    return order


async def resume(runner: SagaRunner, order: Order) -> Order:
    """A retry of a stored order: finish its saga if nobody is driving it, else report it."""
    owner = new_owner()
    if order.phase.value != "done" and await runner.claim(order.order_id, owner):
        return await runner.drive(order.order_id, owner)
    return order


async def place_order(
    runner: SagaRunner, catalog: Catalog, cmd: PlaceOrder, request_hash: str
) -> Order:
    check(cmd)
    prior = await existing_order(runner, cmd.program_id, cmd.idempotency_key, request_hash)
    if prior is not None:
        return await resume(runner, prior)
    shipping_fee = await quote_shipping(catalog, cmd)
    owner = new_owner()
    order = new_order(cmd, uuid.uuid4().hex, shipping_fee)
    if not await store_order(runner, order, request_hash, owner):
        prior = await existing_order(runner, cmd.program_id, cmd.idempotency_key, request_hash)
        assert prior is not None
        return await resume(runner, prior)
    return await runner.drive(order.order_id, owner)
