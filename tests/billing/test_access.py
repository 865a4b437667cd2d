"""Roles, tenant isolation and bad input on BillingService."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from runtime.auth import Role
from services.billing.entrypoints.access_policy import POLICY, SERVICE
from tamaru.billing.v1 import billing_pb2, invoices_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.billing.test_charges_and_reports import this_month
from tests.support.polling import eventually
from tests.support.services import TestProgram


async def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


def test_policy_lists_every_method() -> None:
    assert POLICY.missing_methods(SERVICE) == []
    assert POLICY.roles_for(f"/{SERVICE.full_name}/FinalizeInvoice") == frozenset({Role.ADMIN})
    assert POLICY.roles_for(f"/{SERVICE.full_name}/GetInvoice") == frozenset(
        {Role.ADMIN, Role.READONLY}
    )


async def test_readonly_reads_only_admin_changes_others_see_nothing(
    accounts: Accounts, billing: Billing
) -> None:
    await accounts.enrol()
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.issued_member_ids == 1
    )
    readonly = billing.as_role(Role.READONLY)
    assert (await readonly.invoice(this_month())).invoice_id == draft.invoice_id
    assert (await readonly.report(this_month())).members_enrolled == 1
    finalize = billing_pb2.FinalizeInvoiceRequest(
        idempotency_key=uuid.uuid4().hex, invoice_id=draft.invoice_id, before_period_end=True
    )
    code, _ = await code_of(readonly.call("FinalizeInvoice", finalize))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await code_of(readonly.call("Reconcile", billing_pb2.ReconcileRequest()))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    for role in (Role.BACKEND, Role.GRANTER):
        code, _ = await code_of(billing.as_role(role).invoice(this_month()))
        assert code == grpc.StatusCode.PERMISSION_DENIED, role
    still = await billing.invoice(this_month())
    assert still.number == ""
    assert still.invoice_id == draft.invoice_id


async def test_another_programs_key_cannot_see_or_touch_the_invoice(
    accounts: Accounts, billing: Billing, billing_process: BillingProcess, js: Any
) -> None:
    from tests.support.services import create_program

    await accounts.enrol()
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.issued_member_ids == 1
    )
    other: TestProgram = await create_program(js, ["billing"])
    intruder = Billing(billing_process, other)
    try:
        code, details = await code_of(
            intruder.call("GetInvoice", billing_pb2.GetInvoiceRequest(invoice_id=draft.invoice_id))
        )
        assert code == grpc.StatusCode.NOT_FOUND
        assert "invoice" in details
        code, _ = await code_of(
            intruder.call(
                "FinalizeInvoice",
                billing_pb2.FinalizeInvoiceRequest(
                    idempotency_key="k1", invoice_id=draft.invoice_id, before_period_end=True
                ),
            )
        )
        assert code == grpc.StatusCode.NOT_FOUND
        theirs = await intruder.invoice(this_month())
        assert theirs.invoice_id != draft.invoice_id
        assert theirs.facts.issued_member_ids == 0
        listed = await intruder.call("ListInvoices", billing_pb2.ListInvoicesRequest())
        assert draft.invoice_id not in [i.invoice_id for i in listed.invoices]
    finally:
        await intruder.close()
    assert (await billing.invoice(this_month())).status == draft.status


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("GetInvoice", billing_pb2.GetInvoiceRequest(period="2026-13"), "period"),
        ("GetInvoice", billing_pb2.GetInvoiceRequest(period="2999-01"), "period"),
        ("GetInvoice", billing_pb2.GetInvoiceRequest(), "invoice"),
        ("GetUsageReport", billing_pb2.GetUsageReportRequest(), "period"),
        (
            "GetMemberGrowth",
            billing_pb2.GetMemberGrowthRequest(from_period="2020-01", to_period="2019-12"),
            "from_period",
        ),
        (
            "ListInvoices",
            billing_pb2.ListInvoicesRequest(statuses=[invoices_pb2.INVOICE_STATUS_UNSPECIFIED]),
            "statuses[0]",
        ),
        (
            "ExportInvoice",
            billing_pb2.ExportInvoiceRequest(invoice_id="x"),
            "format",
        ),
        (
            "FinalizeInvoice",
            billing_pb2.FinalizeInvoiceRequest(invoice_id="x"),
            "idempotency_key",
        ),
        (
            "VoidInvoice",
            billing_pb2.VoidInvoiceRequest(idempotency_key="v", invoice_id="x"),
            "reason",
        ),
        (
            "IssueCreditNote",
            billing_pb2.IssueCreditNoteRequest(idempotency_key="c", invoice_id="x", reason="r"),
            "invoice_id",  # checked before the lines: the invoice does not exist
        ),
    ],
)
async def test_bad_input_names_the_field(
    billing: Billing, method: str, request_: Any, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.call(method, request_)
    assert caught.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    metadata = dict(caught.value.trailing_metadata() or ())
    assert field.encode() in metadata.get("tamaru-error-bin", b""), caught.value.details()


async def test_campaign_comparison_of_an_unknown_campaign_is_not_found(billing: Billing) -> None:
    code, details = await code_of(
        billing.call("CompareCampaigns", billing_pb2.CompareCampaignsRequest(campaign_ids=["x"]))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    assert "no campaign 'x'" in details
    empty = await billing.call("CompareCampaigns", billing_pb2.CompareCampaignsRequest())
    assert list(empty.campaigns) == []  # the test program has no campaigns
