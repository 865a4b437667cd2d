"""Invoice RPCs of BillingService. Thin: proto -> Billing (service layer) -> proto."""

from __future__ import annotations

import base64
from datetime import UTC

import grpc

from runtime.errors import InvalidArgument
from services.billing.documents.invoice_csv import invoice_csv
from services.billing.documents.invoice_html import invoice_html
from services.billing.domain.invoices import Invoice, InvoiceStatus
from services.billing.domain.periods import Period
from services.billing.entrypoints.convert import invoice_proto
from services.billing.entrypoints.rpc_base import RpcBase
from services.billing.service_layer.invoices import Billing
from tamaru.billing.v1 import billing_pb2, invoices_pb2
from tamaru.common.v1 import common_pb2

DEFAULT_PAGE, MAX_PAGE = 50, 200
CSV_TYPE, HTML_TYPE = "text/csv; charset=utf-8", "text/html; charset=utf-8"


def _page_token(period: str, invoice_id: str) -> str:
    return base64.urlsafe_b64encode(f"{period}|{invoice_id}".encode()).decode()


def _after(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        period, invoice_id = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        Period.parse(period)
    except Exception:
        raise InvalidArgument(
            "page_token is not one this service returned", field="page.page_token"
        ) from None
    return period, invoice_id


class InvoiceRpcs(RpcBase):
    def _proto(self, invoice: Invoice) -> invoices_pb2.Invoice:
        return invoice_proto(invoice, self.ctx.programs.spec(invoice.program_id).zone)

    async def GetInvoice(
        self, request: billing_pb2.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetInvoiceResponse:
        which = request.WhichOneof("invoice")
        if which is None:
            raise InvalidArgument("give invoice_id or period", field="invoice")

        async def work(billing: Billing) -> billing_pb2.GetInvoiceResponse:
            if which == "period":
                invoice = await billing.for_period(Period.parse(request.period))
            else:
                invoice = await billing.by_id(request.invoice_id)
            return billing_pb2.GetInvoiceResponse(invoice=self._proto(invoice))

        return await self.read(work)

    async def ListInvoices(
        self, request: billing_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListInvoicesResponse:
        size = request.page.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise InvalidArgument(f"page_size must be 1-{MAX_PAGE}", field="page.page_size")
        after = _after(request.page.page_token)
        statuses = []
        for index, status in enumerate(request.statuses):
            if status == invoices_pb2.INVOICE_STATUS_UNSPECIFIED:
                raise InvalidArgument("unspecified status", field=f"statuses[{index}]")
            name = invoices_pb2.InvoiceStatus.Name(status).removeprefix("INVOICE_STATUS_")
            statuses.append(InvoiceStatus(name.lower()).value)

        async def work(billing: Billing) -> billing_pb2.ListInvoicesResponse:
            if after is None:
                await billing.prepare()
            rows = await billing.invoices.page(statuses, after, size + 1)
            token = ""
            if len(rows) > size:
                rows = rows[:size]
                token = _page_token(rows[-1].period, rows[-1].invoice_id)
            return billing_pb2.ListInvoicesResponse(
                invoices=[self._proto(await billing.invoices.load(r)) for r in rows],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await self.read(work)

    async def FinalizeInvoice(
        self, request: billing_pb2.FinalizeInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.FinalizeInvoiceResponse:
        async def work(billing: Billing) -> billing_pb2.FinalizeInvoiceResponse:
            invoice = await billing.finalize(request.invoice_id, early=request.before_period_end)
            return billing_pb2.FinalizeInvoiceResponse(invoice=self._proto(invoice))

        return await self.mutate(
            "FinalizeInvoice", request, billing_pb2.FinalizeInvoiceResponse, work
        )

    async def VoidInvoice(
        self, request: billing_pb2.VoidInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.VoidInvoiceResponse:
        async def work(billing: Billing) -> billing_pb2.VoidInvoiceResponse:
            invoice = await billing.void(request.invoice_id, request.reason)
            return billing_pb2.VoidInvoiceResponse(invoice=self._proto(invoice))

        return await self.mutate("VoidInvoice", request, billing_pb2.VoidInvoiceResponse, work)

    async def MarkInvoicePaid(
        self, request: billing_pb2.MarkInvoicePaidRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.MarkInvoicePaidResponse:
        paid_at = request.paid_at.ToDatetime(tzinfo=UTC) if request.HasField("paid_at") else None

        async def work(billing: Billing) -> billing_pb2.MarkInvoicePaidResponse:
            invoice = await billing.mark_paid(
                request.invoice_id, paid_at, request.payment_reference
            )
            return billing_pb2.MarkInvoicePaidResponse(invoice=self._proto(invoice))

        return await self.mutate(
            "MarkInvoicePaid", request, billing_pb2.MarkInvoicePaidResponse, work
        )

    async def IssueCreditNote(
        self, request: billing_pb2.IssueCreditNoteRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.IssueCreditNoteResponse:
        lines = [(line.description, line.amount_yen) for line in request.lines]

        async def work(billing: Billing) -> billing_pb2.IssueCreditNoteResponse:
            note = await billing.credit_note(request.invoice_id, request.reason, lines)
            return billing_pb2.IssueCreditNoteResponse(credit_note=self._proto(note))

        return await self.mutate(
            "IssueCreditNote", request, billing_pb2.IssueCreditNoteResponse, work
        )

    async def ExportInvoice(
        self, request: billing_pb2.ExportInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ExportInvoiceResponse:
        fmt = request.format
        if fmt not in (billing_pb2.EXPORT_FORMAT_CSV, billing_pb2.EXPORT_FORMAT_HTML):
            raise InvalidArgument("format must be CSV or HTML", field="format")

        async def work(billing: Billing) -> billing_pb2.ExportInvoiceResponse:
            invoice = await billing.by_id(request.invoice_id)
            name = billing.spec.display_name
            stem = invoice.number or f"draft-{invoice.program_id}-{invoice.period}"
            if fmt == billing_pb2.EXPORT_FORMAT_CSV:
                return billing_pb2.ExportInvoiceResponse(
                    content=invoice_csv(invoice, name),
                    content_type=CSV_TYPE,
                    filename=f"{stem}.csv",
                )
            return billing_pb2.ExportInvoiceResponse(
                content=invoice_html(invoice, name, self.issuer).encode(),
                content_type=HTML_TYPE,
                filename=f"{stem}.html",
            )

        return await self.read(work)
