"""An invoice or credit note as CSV: a header block, then one row per line, then the totals.

UTF-8 with a byte-order mark, so spreadsheet programs in Japan open it correctly.
"""

from __future__ import annotations

import csv
import io

from services.billing.documents.issuer import due_date
from services.billing.domain.invoices import Invoice, InvoiceKind


def invoice_csv(invoice: Invoice, program_name: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    title = "credit_note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "invoice"
    writer.writerow(["document", title])
    writer.writerow(["number", invoice.number or "(draft)"])
    writer.writerow(["status", invoice.status.value])
    writer.writerow(["program_id", invoice.program_id])
    writer.writerow(["program", program_name])
    writer.writerow(["period", str(invoice.period)])
    writer.writerow(["time_zone", invoice.time_zone])
    issued = invoice.finalized_at.date().isoformat() if invoice.finalized_at else ""
    writer.writerow(["issued_on", issued])
    if invoice.kind is InvoiceKind.INVOICE:
        writer.writerow(["due_on", due_date(invoice.period).isoformat()])
    if invoice.corrects_number:
        writer.writerow(["corrects", invoice.corrects_number])
    writer.writerow([])
    writer.writerow(["line", "kind", "description", "quantity", "unit_yen", "amount_yen"])
    for no, line in enumerate(invoice.lines, start=1):
        writer.writerow(
            [no, line.kind.value, line.description, line.quantity, line.unit_yen, line.amount_yen]
        )
    writer.writerow([])
    writer.writerow(["subtotal_yen", invoice.totals.subtotal_yen])
    writer.writerow(
        [f"tax_yen ({invoice.tax_rate_percent}%, {invoice.tax_rounding})", invoice.totals.tax_yen]
    )
    writer.writerow(["total_yen", invoice.totals.total_yen])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
