"""Report RPCs of BillingService: usage report, exports, growth, campaigns, reconciliation."""

from __future__ import annotations

import grpc

from runtime.errors import InvalidArgument
from runtime.messaging.streams import EVENTS_STREAM
from services.billing.adapters.ledger_totals import LedgerTotals
from services.billing.documents.report_csv import report_csv
from services.billing.documents.report_html import report_html
from services.billing.domain.periods import Period
from services.billing.entrypoints.convert import (
    campaign_proto,
    counts_proto,
    reconciled_proto,
    report_proto,
    stamp,
)
from services.billing.entrypoints.grpc_invoices import CSV_TYPE, HTML_TYPE
from services.billing.entrypoints.rpc_base import RpcBase
from services.billing.service_layer.campaigns import compare_campaigns
from services.billing.service_layer.drafts import current_period
from services.billing.service_layer.invoices import Billing
from services.billing.service_layer.reconcile import reconcile_program
from services.billing.service_layer.reports import MAX_GROWTH_PERIODS, growth, usage_report
from tamaru.billing.v1 import billing_pb2


def _period(text: str, field: str, current: Period) -> Period:
    if not text:
        raise InvalidArgument(f"{field} is required (YYYY-MM)", field=field)
    period = Period.parse(text, field=field)
    if period > current:
        raise InvalidArgument(f"{field} {period} has not begun yet", field=field)
    return period


class ReportRpcs(RpcBase):
    async def GetUsageReport(
        self, request: billing_pb2.GetUsageReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetUsageReportResponse:
        async def work(billing: Billing) -> billing_pb2.GetUsageReportResponse:
            period = _period(request.period, "period", current_period(billing.spec))
            report = await usage_report(billing.repo, billing.spec, period)
            return billing_pb2.GetUsageReportResponse(report=report_proto(report))

        return await self.read(work)

    async def ExportUsageReport(
        self, request: billing_pb2.ExportUsageReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ExportUsageReportResponse:
        fmt = request.format
        if fmt not in (billing_pb2.EXPORT_FORMAT_CSV, billing_pb2.EXPORT_FORMAT_HTML):
            raise InvalidArgument("format must be CSV or HTML", field="format")

        async def work(billing: Billing) -> billing_pb2.ExportUsageReportResponse:
            period = _period(request.period, "period", current_period(billing.spec))
            html = fmt == billing_pb2.EXPORT_FORMAT_HTML
            report = await usage_report(billing.repo, billing.spec, period, with_growth=html)
            stem = f"usage-{billing.program_id}-{period}"
            if not html:
                return billing_pb2.ExportUsageReportResponse(
                    content=report_csv(report), content_type=CSV_TYPE, filename=f"{stem}.csv"
                )
            return billing_pb2.ExportUsageReportResponse(
                content=report_html(report).encode(),
                content_type=HTML_TYPE,
                filename=f"{stem}.html",
            )

        return await self.read(work)

    async def GetMemberGrowth(
        self, request: billing_pb2.GetMemberGrowthRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetMemberGrowthResponse:
        async def work(billing: Billing) -> billing_pb2.GetMemberGrowthResponse:
            current = current_period(billing.spec)
            last = (
                _period(request.to_period, "to_period", current) if request.to_period else current
            )
            first = (
                Period.parse(request.from_period, field="from_period")
                if request.from_period
                else last.plus(-11)
            )
            if first > last:
                raise InvalidArgument("from_period is after to_period", field="from_period")
            if first.months_until(last) >= MAX_GROWTH_PERIODS:
                raise InvalidArgument(
                    f"at most {MAX_GROWTH_PERIODS} periods per call", field="from_period"
                )
            rows = await growth(billing.repo, billing.spec, first, last)
            return billing_pb2.GetMemberGrowthResponse(periods=[counts_proto(r) for r in rows])

        return await self.read(work)

    async def CompareCampaigns(
        self, request: billing_pb2.CompareCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CompareCampaignsResponse:
        async def work(billing: Billing) -> billing_pb2.CompareCampaignsResponse:
            figures = await compare_campaigns(billing, list(request.campaign_ids))
            return billing_pb2.CompareCampaignsResponse(
                campaigns=[campaign_proto(f) for f in figures]
            )

        return await self.read(work)

    async def Reconcile(
        self, request: billing_pb2.ReconcileRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ReconcileResponse:
        first = (
            Period.parse(request.from_period, field="from_period") if request.from_period else None
        )
        last = Period.parse(request.to_period, field="to_period") if request.to_period else None
        if first and last and first > last:
            raise InvalidArgument("from_period is after to_period", field="from_period")
        info = await self.ctx.js.stream_info(EVENTS_STREAM)
        truncated = info.state.first_seq > 1

        async def work(billing: Billing) -> billing_pb2.ReconcileResponse:
            result = await reconcile_program(
                self.ctx.js,
                LedgerTotals(self.ctx.commands, billing.program_id),
                billing.repo,
                billing.spec,
                first=first,
                last=last,
                stream_truncated=truncated,
            )
            response = billing_pb2.ReconcileResponse(
                consistent=all(r.consistent for r in result.rows),
                periods=[reconciled_proto(r) for r in result.rows],
            )
            if result.stream_starts_at is not None:
                response.stream_starts_at.CopyFrom(stamp(result.stream_starts_at))
            if result.ledger_starts_at is not None:
                response.ledger_starts_at.CopyFrom(stamp(result.ledger_starts_at))
            return response

        return await self.read(work)
