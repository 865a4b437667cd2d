"""Domain objects -> tamaru.billing.v1 messages."""

from __future__ import annotations

from datetime import datetime, tzinfo

from google.protobuf.timestamp_pb2 import Timestamp

from services.billing.domain.campaigns import BuyerGroup, CampaignFigures
from services.billing.domain.invoices import Invoice
from services.billing.domain.reconciliation import ReconciledPeriod
from services.billing.domain.reports import MemberCounts, UsageReport
from tamaru.billing.v1 import billing_pb2, invoices_pb2, reports_pb2


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def _set_time(message: object, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, field).CopyFrom(stamp(value))


def invoice_proto(invoice: Invoice, zone: tzinfo) -> invoices_pb2.Invoice:
    facts = invoice.facts
    message = invoices_pb2.Invoice(
        invoice_id=invoice.invoice_id,
        number=invoice.number or "",
        kind=invoices_pb2.InvoiceKind.Value(f"INVOICE_KIND_{invoice.kind.value.upper()}"),
        status=invoices_pb2.InvoiceStatus.Value(f"INVOICE_STATUS_{invoice.status.value.upper()}"),
        period=str(invoice.period),
        time_zone=invoice.time_zone,
        lines=[
            invoices_pb2.InvoiceLine(
                kind=invoices_pb2.LineKind.Value(f"LINE_KIND_{line.kind.value.upper()}"),
                description=line.description,
                quantity=line.quantity,
                unit_yen=line.unit_yen,
                amount_yen=line.amount_yen,
            )
            for line in invoice.lines
        ],
        subtotal_yen=invoice.totals.subtotal_yen,
        tax_yen=invoice.totals.tax_yen,
        total_yen=invoice.totals.total_yen,
        tax_rate_percent=invoice.tax_rate_percent,
        tax_rounding=invoice.tax_rounding,
        facts=invoices_pb2.InvoiceFacts(
            issued_member_ids=facts.issued_ids,
            charged_points=facts.charged_points,
            waiver_window_grants_yen=facts.window_grants_yen,
            waiver_reason=facts.waiver_reason,
            first_invoice=facts.first_invoice,
        ),
        payment_reference=invoice.payment_reference,
        void_reason=invoice.void_reason,
        corrects_invoice_id=invoice.corrects_invoice_id or "",
        reason=invoice.reason,
        credited_yen=invoice.credited_yen,
    )
    _set_time(message.facts, "waiver_window_start", facts.window_start)
    _set_time(message.facts, "waiver_window_end", facts.window_end)
    _set_time(message, "period_start", invoice.period.start(zone))
    _set_time(message, "period_end", invoice.period.end(zone))
    _set_time(message, "created_at", invoice.created_at)
    _set_time(message, "finalized_at", invoice.finalized_at)
    _set_time(message, "paid_at", invoice.paid_at)
    _set_time(message, "voided_at", invoice.voided_at)
    return message


def _points(items: list[tuple[str, int]]) -> list[reports_pb2.KeyedPoints]:
    return [reports_pb2.KeyedPoints(key=k, points=v) for k, v in items]


def _counts(items: list[tuple[str, int]]) -> list[reports_pb2.KeyedCount]:
    return [reports_pb2.KeyedCount(key=k, count=v) for k, v in items]


def report_proto(report: UsageReport) -> reports_pb2.UsageReport:
    return reports_pb2.UsageReport(
        period=str(report.period),
        time_zone=report.time_zone,
        points_granted=report.points_granted,
        granted_by_source=_points(report.granted_by_source),
        points_granted_sponsor_funded=report.points_granted_sponsor_funded,
        points_spent=report.points_spent,
        spent_by_source=_points(report.spent_by_source),
        points_restored=report.points_restored,
        points_clawed_back=report.points_clawed_back,
        points_expired=report.points_expired,
        points_adjusted_up=report.points_adjusted_up,
        points_adjusted_down=report.points_adjusted_down,
        outstanding_points=report.outstanding_points,
        members_enrolled=report.members_enrolled,
        members_active=report.members_active,
        members_issued=report.members_issued,
        thanks_points=report.thanks_points,
        thanks_messages=report.thanks_messages,
        top_thanks_senders=_points(report.top_thanks_senders),
        top_thanks_receivers=_points(report.top_thanks_receivers),
        tier_distribution=_counts(report.tier_distribution),
        top_items=_counts(report.top_items),
        lottery_entries=_counts(report.lottery_entries),
        spent_by_category=_points(report.spent_by_category),
    )


def counts_proto(counts: MemberCounts) -> reports_pb2.MemberCounts:
    return reports_pb2.MemberCounts(
        period=str(counts.period),
        enrolled=counts.enrolled,
        closed=counts.closed,
        members_at_end=counts.members_at_end,
        active=counts.active,
        issued=counts.issued,
    )


def reconciled_proto(row: ReconciledPeriod) -> reports_pb2.ReconciledPeriod:
    return reports_pb2.ReconciledPeriod(
        period=str(row.period),
        stream_points=row.stream.points,
        billed_points=row.billed.points,
        stream_events=row.stream.events,
        billed_events=row.billed.events,
        partial=row.partial,
        consistent=row.consistent,
        ledger_points=row.ledger.net.points,
        ledger_transactions=row.ledger.net.events,
        difference=row.difference,
        ledger_credited_points=row.ledger.credited,
        ledger_clawed_back_points=row.ledger.clawed_back,
    )


def _buyers_proto(group: BuyerGroup) -> billing_pb2.BuyerGroup:
    return billing_pb2.BuyerGroup(
        members=group.members,
        purchases=group.purchases,
        purchase_yen=group.purchase_yen,
        purchase_yen_per_member=group.purchase_yen_per_member,
        purchases_per_member=group.purchases_per_member,
    )


def campaign_proto(figures: CampaignFigures) -> billing_pb2.CampaignResult:
    campaign = figures.campaign
    message = billing_pb2.CampaignResult(
        campaign_id=campaign.id,
        name=campaign.name,
        window_end=stamp(campaign.end),
        running=campaign.running,
        points_issued=figures.points_issued,
        participants=_buyers_proto(figures.participants),
        non_participants=_buyers_proto(figures.non_participants),
    )
    _set_time(message, "window_start", campaign.start)
    return message
