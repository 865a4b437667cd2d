"""The saga gauges on-call alerts on: orders whose saga is not done, and the oldest's age."""

from __future__ import annotations

from runtime.db.engine import make_async_engine, make_session_factory
from runtime.telemetry import metrics
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.domain import saga
from services.redeem.service_layer.fault_plan import FaultPlan
from tests.redeem.shop import Shop, lines
from tests.redeem.test_recovery import crash_an_order


async def test_a_cut_off_saga_shows_in_the_unfinished_summary(
    shop: Shop, database_url: str, nats_url: str
) -> None:
    member = await shop.member(points=500)
    await shop.item("METRIC-1", price=100)
    request = shop.order_request(member, lines(("METRIC-1", 1)))
    await crash_an_order(shop, FaultPlan().crash(saga.HOLD_POINTS), database_url, nats_url, request)

    engine = make_async_engine(database_url, schema="redeem", pool_size=1)
    try:
        async with make_session_factory(engine)() as session:
            summary = await OrderRepository(session).unfinished_summary()
    finally:
        await engine.dispose()
    pending = [row for row in summary if row[0] == "pending"]
    assert pending, summary
    assert sum(count for _, _, count, _ in pending) >= 1
    assert all(age >= 0 for *_, age in summary)

    metrics.saga_orders.set(pending[0][2], status="pending", phase=pending[0][1])
    observed = list(metrics.saga_orders._observe(None))  # type: ignore[arg-type]
    assert any(o.attributes == {"status": "pending", "phase": pending[0][1]} for o in observed)
