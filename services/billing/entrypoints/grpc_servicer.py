"""The BillingService servicer, assembled from its parts (one file per area)."""

from __future__ import annotations

from services.billing.entrypoints.grpc_invoices import InvoiceRpcs
from services.billing.entrypoints.grpc_reports import ReportRpcs
from tamaru.billing.v1 import billing_pb2_grpc


class BillingServicer(InvoiceRpcs, ReportRpcs, billing_pb2_grpc.BillingServiceServicer):
    """Methods not implemented by a part answer UNIMPLEMENTED (the generated base class)."""
