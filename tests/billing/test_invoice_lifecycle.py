"""draft -> finalized (numbered, immutable, in the database too) -> paid or void; corrections
are credit notes; exports as CSV and printable HTML."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.billing.domain.periods import Period
from tamaru.billing.v1 import billing_pb2, invoices_pb2
from tests.billing.conftest import Accounts, Billing, BillingProcess
from tests.billing.test_charges_and_reports import this_month
from tests.support.polling import eventually


def key() -> str:
    return uuid.uuid4().hex


async def finalize(billing: Billing, invoice_id: str, early: bool = True) -> Any:
    reply = await billing.call(
        "FinalizeInvoice",
        billing_pb2.FinalizeInvoiceRequest(
            idempotency_key=key(), invoice_id=invoice_id, before_period_end=early
        ),
    )
    return reply.invoice


async def expect_error(call: Any, code: grpc.StatusCode, reason: str | None = None) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    details = caught.value.details() or ""
    if reason is not None:
        metadata = dict(caught.value.trailing_metadata() or ())
        assert reason.encode() in metadata.get("tamaru-error-bin", b""), details
    return details


async def test_finalize_freezes_the_invoice_and_later_charges_move_on(
    accounts: Accounts, billing: Billing
) -> None:
    member = await accounts.enrol()
    await accounts.credit(member, 700)
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 700
    )
    await expect_error(
        billing.call(
            "FinalizeInvoice",
            billing_pb2.FinalizeInvoiceRequest(idempotency_key=key(), invoice_id=draft.invoice_id),
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PERIOD_NOT_ENDED",
    )
    final = await finalize(billing, draft.invoice_id)
    assert final.status == invoices_pb2.INVOICE_STATUS_FINALIZED
    assert final.number == f"INV-{billing.program.program_id}-000001"
    assert final.total_yen == draft.total_yen
    assert final.HasField("finalized_at")
    await expect_error(
        finalize(billing, draft.invoice_id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVOICE_NOT_DRAFT",
    )

    # A credit after finalizing never edits the invoice: it lands on the next period's draft.
    await accounts.credit(member, 50)
    next_period = str(Period.parse(this_month()).next())

    async def next_draft() -> Any:
        reply = await billing.call("ListInvoices", billing_pb2.ListInvoicesRequest())
        return [i for i in reply.invoices if i.period == next_period]

    [late] = await eventually(
        next_draft, lambda found: len(found) == 1 and found[0].facts.charged_points == 50
    )
    assert late.status == invoices_pb2.INVOICE_STATUS_DRAFT
    assert any(f"late from {this_month()}" in line.description for line in late.lines)
    again = await billing.call(
        "GetInvoice", billing_pb2.GetInvoiceRequest(invoice_id=final.invoice_id)
    )
    assert again.invoice == final


async def test_the_database_refuses_to_change_a_finalized_invoice(
    accounts: Accounts, billing: Billing, billing_process: BillingProcess
) -> None:
    await accounts.enrol()
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.issued_member_ids == 1
    )
    final = await finalize(billing, draft.invoice_id)
    assert billing_process.app is not None
    assert billing_process.app.ctx is not None
    factory = billing_process.app.ctx.session_factory
    statements = [
        "UPDATE invoices SET subtotal_yen = 1, total_yen = 1 + tax_yen WHERE invoice_id = :id",
        "UPDATE invoices SET status = 'draft', number = NULL, finalized_at = NULL "
        "WHERE invoice_id = :id",
        "UPDATE invoice_lines SET amount_yen = 0 WHERE invoice_id = :id",
        "DELETE FROM invoice_lines WHERE invoice_id = :id",
        "INSERT INTO invoice_lines VALUES (:id, 99, 'credit', 'sneaky', 1, -1, -1)",
        "DELETE FROM invoices WHERE invoice_id = :id",
    ]
    for statement in statements:
        async with factory() as session:
            with pytest.raises(DBAPIError, match=r"immutable|cannot be deleted"):
                await session.execute(text(statement), {"id": final.invoice_id})
    # Recording the payment is the one change allowed.
    paid = await billing.call(
        "MarkInvoicePaid",
        billing_pb2.MarkInvoicePaidRequest(
            idempotency_key=key(), invoice_id=final.invoice_id, payment_reference="bank-42"
        ),
    )
    assert paid.invoice.status == invoices_pb2.INVOICE_STATUS_PAID
    assert paid.invoice.payment_reference == "bank-42"
    assert paid.invoice.total_yen == final.total_yen
    await expect_error(
        billing.call(
            "VoidInvoice",
            billing_pb2.VoidInvoiceRequest(
                idempotency_key=key(), invoice_id=final.invoice_id, reason="oops"
            ),
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVOICE_NOT_FINALIZED",
    )


async def test_a_credit_note_corrects_a_finalized_invoice(
    accounts: Accounts, billing: Billing
) -> None:
    await accounts.enrol()
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.issued_member_ids == 1
    )
    final = await finalize(billing, draft.invoice_id)
    assert final.total_yen == 396_000  # setup 300,000 + service 60,000 + 10% tax

    request = billing_pb2.IssueCreditNoteRequest(
        idempotency_key=key(),
        invoice_id=final.invoice_id,
        reason="setup fee agreed at half price",
        lines=[billing_pb2.CreditNoteLine(description="Setup fee discount", amount_yen=150_000)],
    )
    note = (await billing.call("IssueCreditNote", request)).credit_note
    replay = (await billing.call("IssueCreditNote", request)).credit_note
    assert replay == note  # the same idempotency key returns the first credit note
    assert note.kind == invoices_pb2.INVOICE_KIND_CREDIT_NOTE
    assert note.status == invoices_pb2.INVOICE_STATUS_FINALIZED
    assert note.number == f"CN-{billing.program.program_id}-000002"
    assert (note.subtotal_yen, note.tax_yen, note.total_yen) == (-150_000, -15_000, -165_000)
    assert note.corrects_invoice_id == final.invoice_id

    original = (
        await billing.call("GetInvoice", billing_pb2.GetInvoiceRequest(invoice_id=final.invoice_id))
    ).invoice
    assert original.credited_yen == -165_000
    assert original.total_yen == final.total_yen
    assert list(original.lines) == list(final.lines)

    too_much = billing_pb2.IssueCreditNoteRequest(
        idempotency_key=key(),
        invoice_id=final.invoice_id,
        reason="again",
        lines=[billing_pb2.CreditNoteLine(description="everything", amount_yen=210_001)],
    )
    await expect_error(
        billing.call("IssueCreditNote", too_much),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CREDIT_EXCEEDS_INVOICE",
    )
    await expect_error(
        billing.call(
            "VoidInvoice",
            billing_pb2.VoidInvoiceRequest(
                idempotency_key=key(), invoice_id=final.invoice_id, reason="x"
            ),
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVOICE_CREDITED",
    )

    csv_reply = await billing.call(
        "ExportInvoice",
        billing_pb2.ExportInvoiceRequest(
            invoice_id=note.invoice_id, format=billing_pb2.EXPORT_FORMAT_CSV
        ),
    )
    csv_text = csv_reply.content.decode("utf-8-sig")
    assert csv_reply.filename == f"{note.number}.csv"
    assert f"corrects,{final.number}" in csv_text
    assert "total_yen,-165000" in csv_text


async def test_void_makes_room_for_a_new_draft_and_exports_read_well(
    accounts: Accounts, billing: Billing
) -> None:
    member = await accounts.enrol("hanako")
    await accounts.credit(member, 1_234)
    draft = await eventually(
        lambda: billing.invoice(this_month()), lambda inv: inv.facts.charged_points == 1_234
    )
    final = await finalize(billing, draft.invoice_id)

    html = await billing.call(
        "ExportInvoice",
        billing_pb2.ExportInvoiceRequest(
            invoice_id=final.invoice_id, format=billing_pb2.EXPORT_FORMAT_HTML
        ),
    )
    page = html.content.decode()
    assert html.content_type.startswith("text/html")
    for expected in (
        final.number,
        f"Test program {billing.program.program_id}",
        "¥361,234",  # subtotal
        "¥36,123",  # tax, floor of 36,123.4
        "¥397,357",  # total
        f"{this_month()} (Asia/Tokyo)",
        "Due date",
    ):
        assert expected in page, expected

    voided = await billing.call(
        "VoidInvoice",
        billing_pb2.VoidInvoiceRequest(
            idempotency_key=key(), invoice_id=final.invoice_id, reason="wrong recipient"
        ),
    )
    assert voided.invoice.status == invoices_pb2.INVOICE_STATUS_VOID
    assert voided.invoice.void_reason == "wrong recipient"
    replacement = await billing.invoice(this_month())
    assert replacement.invoice_id != final.invoice_id
    assert replacement.status == invoices_pb2.INVOICE_STATUS_DRAFT
    assert replacement.total_yen == final.total_yen

    listed = await billing.call(
        "ListInvoices",
        billing_pb2.ListInvoicesRequest(statuses=[invoices_pb2.INVOICE_STATUS_VOID]),
    )
    assert [i.invoice_id for i in listed.invoices] == [final.invoice_id]
