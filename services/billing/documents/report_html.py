"""The usage report as one HTML page with SVG charts, for the sponsor's monthly review."""

from __future__ import annotations

from html import escape

from services.billing.documents.svg import bar_chart, line_chart
from services.billing.domain.reports import UsageReport

STYLE = """
body { font-family: "Noto Sans JP", "Hiragino Sans", sans-serif; color: #222; max-width: 190mm;
       margin: 0 auto; font-size: 10.5pt; }
h1 { font-size: 17pt; } h2 { font-size: 12.5pt; border-bottom: 1px solid #ccc; margin-top: 7mm; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 3px 8px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; flex-wrap: wrap; gap: 6mm; } .pending { color: #777; font-style: italic; }
"""


def _table(rows: list[tuple[str, int]]) -> str:
    body = "".join(f'<tr><td>{escape(k)}</td><td class="num">{v:,}</td></tr>' for k, v in rows)
    return f"<table>{body}</table>"


def report_html(report: UsageReport) -> str:
    summary = [
        ("Points granted / 付与", report.points_granted),
        ("of which sponsor-funded / うちスポンサー負担", report.points_granted_sponsor_funded),
        ("Points spent / 利用", report.points_spent),
        ("Restored by cancellations / 取消による戻し", report.points_restored),
        ("Clawed back by returns / 返品による回収", report.points_clawed_back),
        ("Expired / 失効", report.points_expired),
        ("Adjusted up / 調整(加算)", report.points_adjusted_up),
        ("Adjusted down / 調整(減算)", report.points_adjusted_down),
        ("Outstanding at month end / 月末残高 (liability)", report.outstanding_points),
        ("Members enrolled / 新規会員", report.members_enrolled),
        ("Active members / アクティブ会員", report.members_active),
        ("Issued member IDs / 発行ID数", report.members_issued),
        ("Thanks points / サンクスポイント", report.thanks_points),
        ("Thanks messages / サンクス件数", report.thanks_messages),
    ]
    growth = report.growth
    growth_chart = line_chart(
        [str(g.period)[2:] for g in growth],
        [
            ("members at end", [g.members_at_end for g in growth]),
            ("active", [g.active for g in growth]),
            ("enrolled", [g.enrolled for g in growth]),
            ("closed", [g.closed for g in growth]),
        ],
        "Members over the last 12 months / 会員数の推移",
    )
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<title>Usage report {report.period} — {escape(report.program_name)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(report.program_name)}: usage report {report.period}</h1>
<p>Calendar month in {escape(report.time_zone)}. Points are whole points.</p>
<h2>Summary / 概要</h2>
{_table(summary)}
<h2>Points / ポイント</h2>
<div class="grid">
{bar_chart(report.granted_by_source[:12], "Granted by source / 付与の内訳")}
{bar_chart(report.spent_by_source[:12], "Spent by source / 利用の内訳")}
</div>
<h2>Members / 会員</h2>
{growth_chart}
{bar_chart(report.tier_distribution, "Tier distribution at month end / ランク分布")}
<h2>Thanks / サンクス</h2>
<div class="grid">
{bar_chart(report.top_thanks_senders, "Top senders / 送信上位")}
{bar_chart(report.top_thanks_receivers, "Top receivers / 受信上位")}
</div>
<h2>Items and lotteries / 交換・抽選</h2>
<div class="grid">
{bar_chart(report.top_items, "Top items (units) / 交換上位")}
{bar_chart(report.lottery_entries, "Lottery entries / 抽選応募")}
{bar_chart(report.spent_by_category[:12], "Points redeemed by category / カテゴリ別交換")}
</div>
</body></html>
"""
