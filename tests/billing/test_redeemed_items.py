"""The usage report's top items, points by category and lottery entries, from redeem's real
events: orders placed, confirmed and cancelled, and lottery entries, through the real catalog
and redeem services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

import services.catalog.app
from runtime.auth import Role
from runtime.service import ServiceApp
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.app import make_definition
from services.redeem.entrypoints.wiring import RedeemOptions
from tamaru.accounts.v1 import members_pb2
from tamaru.billing.v1 import billing_pb2, reports_pb2
from tamaru.redeem.v1 import lotteries_pb2, orders_pb2, redeem_pb2
from tests.billing.conftest import Billing, BillingProcess
from tests.redeem.shop import ADDRESS, Shop, Stubs, key, lines
from tests.support.polling import eventually
from tests.support.services import create_program, running_service

SPEC: dict[str, Any] = {"lotteries": {"enabled": True}, "catalog": {"useSharedCatalog": False}}
TOKYO = ZoneInfo("Asia/Tokyo")  # the test programs' time zone


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shop(
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
) -> AsyncIterator[Shop]:
    gateway = SandboxGateway()
    redeem_definition = make_definition(RedeemOptions(gateway=gateway))
    async with (
        running_service(services.catalog.app.definition, database_url, nats_url) as catalog,
        running_service(redeem_definition, database_url, nats_url) as redeem,
        grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{catalog.port}") as c,
        grpc.aio.insecure_channel(f"127.0.0.1:{redeem.port}") as r,
    ):
        program = await create_program(js, ["accounts", "billing", "catalog", "redeem"], **SPEC)
        yield Shop(Stubs.over(a, c, r), program, gateway)


async def test_top_items_and_lottery_entries_come_from_redeems_events(
    shop: Shop, billing_process: BillingProcess
) -> None:
    member = await shop.member(points=10_000)
    await shop.item("mug", price=100, category="kitchen")
    await shop.item("towel", price=200)  # no category
    await shop.item("kettle", price=300, category="kitchen")
    await shop.place(member, lines(("mug", 2), ("towel", 1)))
    await shop.place(member, lines(("mug", 1)))
    kettle = await shop.place(member, lines(("kettle", 1)))
    cancelled = await shop.redeem.CancelOrder(
        redeem_pb2.CancelOrderRequest(
            idempotency_key=key(), order_id=kettle.order_id, reason="changed"
        ),
        metadata=shop.md(Role.BACKEND),
    )
    assert cancelled.order.status == orders_pb2.ORDER_STATUS_CANCELLED

    now = datetime.now(UTC)
    opened, closes = now - timedelta(minutes=1), now + timedelta(hours=1)
    lottery = await shop.redeem.CreateLottery(
        redeem_pb2.CreateLotteryRequest(
            idempotency_key=key(),
            title="Summer draw",
            prizes=[lotteries_pb2.LotteryPrize(sku="mug", count=1)],
            entry_cost_points=10,
            max_entries_per_member=3,
            entries_open_time=_stamp(opened),
            entries_close_time=_stamp(closes),
            draw_time=_stamp(closes),
        ),
        metadata=shop.md(),
    )
    for _ in range(2):
        await shop.redeem.EnterLottery(
            redeem_pb2.EnterLotteryRequest(
                idempotency_key=key(),
                lottery_id=lottery.lottery.lottery_id,
                member=members_pb2.MemberSelector(account_id=member),
                shipping_address=ADDRESS,
            ),
            metadata=shop.md(Role.BACKEND),
        )

    billing = Billing(billing_process, shop.program)
    period = now.astimezone(TOKYO).strftime("%Y-%m")

    async def report() -> reports_pb2.UsageReport:
        current: reports_pb2.UsageReport = await billing.report(period)
        return current

    try:
        done = await eventually(
            report,
            lambda r: (
                _entries(r) == 2
                and _items(r) == {"mug": 3, "towel": 1}
                and len(r.spent_by_category) == 2
            ),
        )
        # Points of the items redeemed per catalog category; the cancelled kettle nets out.
        assert [(c.key, c.points) for c in done.spent_by_category] == [
            ("kitchen", 300),
            ("(none)", 200),
        ]
        # The cancelled kettle nets to zero and is not listed; mugs (3 units) lead.
        assert [(i.key, i.count) for i in done.top_items] == [("mug", 3), ("towel", 1)]
        assert [(e.key, e.count) for e in done.lottery_entries] == [(lottery.lottery.lottery_id, 2)]
        csv = await billing.call(
            "ExportUsageReport",
            billing_pb2.ExportUsageReportRequest(
                period=period, format=billing_pb2.EXPORT_FORMAT_CSV
            ),
        )
        text = csv.content.decode("utf-8-sig")
        assert "top_items,mug,3" in text
        assert f"lottery_entries,{lottery.lottery.lottery_id},2" in text
        assert "spent_by_category,kitchen,300" in text
    finally:
        await billing.close()


def _entries(report: reports_pb2.UsageReport) -> int:
    return sum(e.count for e in report.lottery_entries)


def _items(report: reports_pb2.UsageReport) -> dict[str, int]:
    return {i.key: i.count for i in report.top_items}


def _stamp(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out
