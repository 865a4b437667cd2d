"""Catalog learns what members redeemed from redeem's `order_confirmed` events (its
recommendations count by the member's group and tier), without the member waiting for it."""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy import select

from runtime.auth import Role
from runtime.service import ServiceApp
from services.catalog.adapters.orm import RedeemedItemRow
from tamaru.accounts.v1 import accounts_pb2
from tamaru.redeem.v1 import orders_pb2
from tests.redeem.shop import Shop, key, lines, rpc_error
from tests.support.polling import eventually

R = RedeemedItemRow


async def redeemed(catalog_app: ServiceApp, program_id: str) -> list[tuple[str, ...]]:
    assert catalog_app.ctx is not None
    async with catalog_app.ctx.uow() as uow:
        rows = await uow.session.execute(
            select(R.member_id, R.group_id, R.sku, R.quantity)
            .where(R.program_id == program_id)
            .order_by(R.sku)
        )
        return [tuple(str(v) for v in row) for row in rows]


async def recorded(catalog_app: ServiceApp, program_id: str, count: int) -> list[tuple[str, ...]]:
    """The program's redemptions once there are `count` of them (5 s at most)."""
    return await eventually(
        lambda: redeemed(catalog_app, program_id), lambda rows: len(rows) >= count, timeout=5
    )


async def test_a_confirmed_orders_lines_are_recorded_with_the_members_group(
    shop: Shop, catalog_app: ServiceApp
) -> None:
    group = await shop.stubs.accounts.CreateGroup(
        accounts_pb2.CreateGroupRequest(idempotency_key=key(), name="Sales"), metadata=shop.md()
    )
    group_id = group.group.group_id
    member = await shop.member(points=5000, group_ids=[group_id])
    await shop.item("pen", price=300)
    await shop.item("pad", price=500)
    order = await shop.place(member, lines(("pen", 2), ("pad", 1)))
    assert order.status == orders_pb2.ORDER_STATUS_CONFIRMED

    program_id = shop.program.program_id
    assert await recorded(catalog_app, program_id, 2) == [
        (member, group_id, "pad", "1"),
        (member, group_id, "pen", "2"),
    ]


async def test_a_failed_order_records_nothing(shop: Shop, catalog_app: ServiceApp) -> None:
    poor, rich = await shop.member(points=100), await shop.member(points=1000)
    await shop.item("lamp", price=1000)
    await shop.item("cup", price=200)
    code, _ = await rpc_error(
        shop.redeem.PlaceOrder(
            shop.order_request(poor, lines(("lamp", 1))), metadata=shop.md(Role.BACKEND)
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    confirmed = await shop.place(rich, lines(("cup", 1)))
    assert confirmed.status == orders_pb2.ORDER_STATUS_CONFIRMED
    # Events of one program arrive in order: once the later order is in, the failed one
    # would have been too.
    found = await recorded(catalog_app, shop.program.program_id, 1)
    await asyncio.sleep(0.2)
    assert [row[2] for row in found] == ["cup"]
    assert await redeemed(catalog_app, shop.program.program_id) == found
