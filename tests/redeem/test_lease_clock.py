"""Saga leases are written and judged by one clock, the database's: a redeem process whose wall
clock runs minutes ahead must not keep the recovery worker off its sagas for those minutes (the
bank test's clock skew found leases written by the process's clock, judged by PostgreSQL's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from runtime.db.engine import make_async_engine, make_session_factory
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.adapters.orm import OrderRow
from services.redeem.domain import saga
from services.redeem.service_layer.fault_plan import FaultPlan
from tests.redeem.shop import Shop, lines
from tests.redeem.test_recovery import crash_an_order

AHEAD = timedelta(minutes=5)  # the skewed process's clock
LEASE = timedelta(seconds=10)


async def test_a_lease_saved_by_a_fast_clock_ends_by_the_database_clock(
    shop: Shop, database_url: str, nats_url: str
) -> None:
    member = await shop.member(points=500)
    await shop.item("LEASE-1", price=100)
    request = shop.order_request(member, lines(("LEASE-1", 1)))
    await crash_an_order(shop, FaultPlan().crash(saga.HOLD_POINTS), database_url, nats_url, request)
    (pending,) = await shop.orders_of(member)

    engine = make_async_engine(database_url, schema="redeem", pool_size=1)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session, session.begin():
            repo = OrderRepository(session)
            order = await repo.get(pending.order_id)
            owner = (
                await session.execute(
                    select(OrderRow.lease_owner).where(OrderRow.order_id == order.order_id)
                )
            ).scalar_one()
            skewed_now = datetime.now(UTC) + AHEAD
            await repo.save(order, owner=owner, lease=LEASE, now=skewed_now)
            saved = await _lease_left(session, order.order_id)
            await repo.release_lease(order.order_id, owner, timedelta(seconds=1))
            released = await _lease_left(session, order.order_id)
    finally:
        await engine.dispose()
    assert timedelta(0) < saved <= LEASE  # not LEASE + AHEAD
    assert timedelta(0) < released <= timedelta(seconds=1)


async def _lease_left(session: object, order_id: str) -> timedelta:
    query = select(OrderRow.lease_until - func.now()).where(OrderRow.order_id == order_id)
    left: timedelta = (await session.execute(query)).scalar_one()  # type: ignore[attr-defined]
    return left
