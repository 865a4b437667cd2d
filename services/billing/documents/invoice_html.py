"""A printable invoice or credit note (one self-contained HTML page, A4 print styles).

What a finance team checks: issuer (with the qualified invoice registration number when
configured), recipient program, document number, issue and due dates, period, lines,
subtotal, tax by rate with its rounding, total.
"""

from __future__ import annotations

from html import escape

from services.billing.documents.issuer import Issuer, due_date
from services.billing.domain.invoices import Invoice, InvoiceKind, InvoiceStatus

STYLE = """
@page { size: A4; margin: 18mm; }
body { font-family: "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif; color: #222;
       font-size: 10.5pt; margin: 0 auto; max-width: 180mm; }
h1 { font-size: 20pt; letter-spacing: .2em; border-bottom: 2px solid #222; padding-bottom: 4px; }
.parties { display: flex; justify-content: space-between; gap: 12mm; margin: 8mm 0; }
.parties div { flex: 1; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 4px 6px; }
th { background: #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.totals { width: 60%; margin-left: auto; margin-top: 6mm; }
.totals th { width: 55%; }
.grand td, .grand th { font-weight: bold; font-size: 12pt; }
.meta td { border: none; padding: 1px 6px; }
.draft { color: #b00; font-weight: bold; }
.note { margin-top: 8mm; font-size: 9pt; color: #555; }
"""


def _yen(amount: int) -> str:
    return f"¥{amount:,}" if amount >= 0 else f"-¥{-amount:,}"


def invoice_html(invoice: Invoice, program_name: str, issuer: Issuer) -> str:
    credit = invoice.kind is InvoiceKind.CREDIT_NOTE
    title = "適格返還請求書 / Credit note" if credit else "請求書 / Invoice"
    number = escape(invoice.number) if invoice.number else "—"
    issued = invoice.finalized_at.date().isoformat() if invoice.finalized_at else "—"
    status_note = ""
    if invoice.status is InvoiceStatus.DRAFT:
        status_note = '<p class="draft">DRAFT — not an invoice until finalized (下書き)</p>'
    elif invoice.status is InvoiceStatus.VOID:
        status_note = f'<p class="draft">VOID (無効): {escape(invoice.void_reason)}</p>'
    elif invoice.status is InvoiceStatus.PAID and invoice.paid_at:
        status_note = f"<p>Paid on {invoice.paid_at.date().isoformat()} (入金済)</p>"
    meta = [
        ("Document number / 番号", number),
        ("Issue date / 発行日", issued),
        ("Billing period / 対象期間", f"{invoice.period} ({escape(invoice.time_zone)})"),
    ]
    if not credit:
        meta.append(("Due date / お支払期限", due_date(invoice.period).isoformat()))
    if credit and invoice.corrects_number:
        meta.append(("Corrects invoice / 対象請求書", escape(invoice.corrects_number)))
        meta.append(("Reason / 理由", escape(invoice.reason)))
    rows = "\n".join(
        "<tr>"
        f"<td>{no}</td><td>{escape(line.description)}</td>"
        f'<td class="num">{line.quantity:,}</td><td class="num">{_yen(line.unit_yen)}</td>'
        f'<td class="num">{_yen(line.amount_yen)}</td>'
        "</tr>"
        for no, line in enumerate(invoice.lines, start=1)
    )
    registration = (
        f"<br>登録番号 / Registration No. {escape(issuer.registration_number)}"
        if issuer.registration_number
        else ""
    )
    bank = (
        f'<p class="note">Payment to / お振込先: {escape(issuer.bank_account)}</p>'
        if issuer.bank_account and not credit
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><title>{escape(title)} {number}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
{status_note}
<div class="parties">
  <div><strong>{escape(program_name)} 御中</strong><br>Program: {escape(invoice.program_id)}</div>
  <div><strong>{escape(issuer.name)}</strong><br>{escape(issuer.address)}{registration}
  <br>{escape(issuer.email)}</div>
</div>
<table class="meta">{"".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in meta)}</table>
<table style="margin-top:6mm">
<thead><tr><th>#</th><th>Description / 内容</th><th>Quantity / 数量</th>
<th>Unit price / 単価</th><th>Amount / 金額</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<table class="totals">
<tr><th>Subtotal / 小計 (税抜)</th><td class="num">{_yen(invoice.totals.subtotal_yen)}</td></tr>
<tr><th>Consumption tax / 消費税 ({invoice.tax_rate_percent}%)</th>
<td class="num">{_yen(invoice.totals.tax_yen)}</td></tr>
<tr class="grand"><th>Total / 合計 (税込)</th>
<td class="num">{_yen(invoice.totals.total_yen)}</td></tr>
</table>
<p class="note">Tax is computed once per document on the subtotal at {invoice.tax_rate_percent}%,
rounded ({escape(invoice.tax_rounding)}) to whole yen. All amounts in JPY.</p>
{bank}
</body>
</html>
"""
