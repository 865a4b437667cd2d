"""Who may call which BillingService method (see docs/billing.md).

admin and readonly read invoices and reports; only admin changes invoices (finalize, void,
mark paid, credit notes) and reconciles. backend and granter (client systems and grant-only
keys) have nothing here: invoices are the sponsor's finance business.
"""

from __future__ import annotations

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tamaru.billing.v1 import billing_pb2

SERVICE = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]

READ = {
    "GetInvoice", "ListInvoices", "ExportInvoice", "GetUsageReport", "ExportUsageReport",
    "GetMemberGrowth", "CompareCampaigns",
}  # fmt: skip
ADMIN_ONLY = {
    "FinalizeInvoice", "VoidInvoice", "MarkInvoicePaid", "IssueCreditNote", "Reconcile",
}  # fmt: skip


def _roles(method: str) -> set[Role]:
    if method in READ:
        return {Role.ADMIN, Role.READONLY}
    if method in ADMIN_ONLY:
        return {Role.ADMIN}
    return set()  # not listed: refused to everyone (a test proves none is left out)


POLICY = MethodPolicy.for_service(SERVICE, {m.name: _roles(m.name) for m in SERVICE.methods})
