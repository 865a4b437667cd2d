"""Billing learns from accounts' events: charges, member counts, drafts, the usage report and
reconciliation, with real accounts and billing services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from nats.js import JetStreamContext

from runtime.service import ServiceApp
from services.billing.domain.periods import Period
from tamaru.accounts.v1 import ledger_pb2
from tamaru.billing.v1 import billing_pb2, invoices_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.support.polling import eventually
from tests.support.services import create_program

TOKYO = ZoneInfo("Asia/Tokyo")


def this_month() -> str:
    return str(Period.containing(datetime.now(UTC), TOKYO))


def lines_of(invoice: Any) -> list[tuple[str, int, int, int]]:
    return [
        (invoices_pb2.LineKind.Name(x.kind), x.quantity, x.unit_yen, x.amount_yen)
        for x in invoice.lines
    ]


CRITERION = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_CRITERION, id="welcome")
RULE = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id="double-days")


async def test_sponsor_funded_points_are_charged_and_reversals_credited(
    accounts: Accounts, billing: Billing
) -> None:
    period = this_month()
    alice, bob, carol = [await accounts.enrol(ref) for ref in ("alice", "bob", "carol")]
    welcome = await accounts.credit(alice, 1_000, source=CRITERION)
    await accounts.credit(bob, 300, source=RULE)
    await accounts.credit(carol, 500, sponsor_funded=False)  # the sponsor does not pay these
    await accounts.reverse(welcome, 200)
    await accounts.debit(bob, 100)

    invoice = await eventually(
        lambda: billing.invoice(period),
        lambda inv: inv.facts.charged_points == 1_100 and inv.facts.issued_member_ids == 3,
    )
    assert invoice.status == invoices_pb2.INVOICE_STATUS_DRAFT
    assert invoice.number == ""
    assert lines_of(invoice) == [
        ("LINE_KIND_SETUP_FEE", 1, 300_000, 300_000),
        ("LINE_KIND_SERVICE_FEE", 1, 60_000, 60_000),
        ("LINE_KIND_POINT_CHARGES", 1_300, 1, 1_300),
        ("LINE_KIND_POINT_REVERSALS", -200, 1, -200),
    ]
    assert (invoice.subtotal_yen, invoice.tax_yen, invoice.total_yen) == (361_100, 36_110, 397_210)
    assert invoice.facts.first_invoice

    report = await eventually(lambda: billing.report(period), lambda r: r.points_spent == 100)
    assert report.points_granted == 1_800
    assert {(g.key, g.points) for g in report.granted_by_source} == {
        ("criterion:welcome", 1_000),
        ("rule:double-days", 300),
        ("admin", 500),
    }
    assert report.points_granted_sponsor_funded == 1_300
    assert report.points_clawed_back == 200
    assert [(s.key, s.points) for s in report.spent_by_source] == [("order", 100)]
    assert report.outstanding_points == 1_800 - 200 - 100
    assert (report.members_enrolled, report.members_issued, report.members_active) == (3, 3, 3)
    assert list(report.top_items) == []
    assert list(report.lottery_entries) == []
    assert list(report.spent_by_category) == []

    reconciled = await billing.call("Reconcile", billing_pb2.ReconcileRequest())
    assert reconciled.consistent
    [row] = reconciled.periods
    assert (row.period, row.stream_points, row.billed_points) == (period, 1_100, 1_100)
    assert (row.stream_events, row.billed_events) == (3, 3)

    csv_export = await billing.call(
        "ExportUsageReport",
        billing_pb2.ExportUsageReportRequest(period=period, format=billing_pb2.EXPORT_FORMAT_CSV),
    )
    rows = csv_export.content.decode("utf-8-sig").splitlines()
    assert "points,granted,1800" in rows
    assert "granted_by_source,criterion:welcome,1000" in rows
    html_export = await billing.call(
        "ExportUsageReport",
        billing_pb2.ExportUsageReportRequest(period=period, format=billing_pb2.EXPORT_FORMAT_HTML),
    )
    page = html_export.content.decode()
    # sources, spends, growth, tiers, top senders, receivers, top items, lottery entries
    assert page.count("<svg") == 9
    assert "criterion:welcome" in page
    assert "Top items (units)" in page


async def test_yen_per_point_and_the_bundle_come_from_the_plan(
    js: JetStreamContext,
    accounts_service: ServiceApp,
    billing_process: BillingProcess,
) -> None:
    program = await create_program(
        js,
        ["accounts", "billing"],
        yenPerPoint=3,
        billing={"benefitsBundle": True, "taxRatePercent": 8, "taxRounding": "ceil"},
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{accounts_service.port}") as channel:
        accounts = Accounts(channel, program)
        member = await accounts.enrol()
        await accounts.credit(member, 1_001)
    billing = Billing(billing_process, program)
    try:
        invoice = await eventually(
            lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 1_001
        )
    finally:
        await billing.close()
    kinds = [line[0] for line in lines_of(invoice)]
    assert kinds == [
        "LINE_KIND_SETUP_FEE",
        "LINE_KIND_WAIVER",
        "LINE_KIND_SERVICE_FEE",
        "LINE_KIND_WAIVER",
        "LINE_KIND_POINT_CHARGES",
    ]
    assert invoice.facts.waiver_reason == "benefits_bundle"
    assert invoice.subtotal_yen == 3_003
    assert invoice.tax_yen == 241  # 240.24 rounded up
    assert invoice.total_yen == 3_244


async def test_member_growth_counts_this_month(accounts: Accounts, billing: Billing) -> None:
    for _ in range(2):
        await accounts.enrol()
    reply = await eventually(
        lambda: billing.call("GetMemberGrowth", billing_pb2.GetMemberGrowthRequest()),
        lambda r: r.periods[-1].enrolled == 2,
    )
    assert len(reply.periods) == 12
    last = reply.periods[-1]
    assert (last.period, last.members_at_end, last.issued, last.closed) == (this_month(), 2, 2, 0)
    assert all(p.members_at_end == 0 for p in reply.periods[:-1])
