"""The usage report as CSV: one row per (section, key, value), easy to pivot."""

from __future__ import annotations

import csv
import io

from services.billing.domain.reports import UsageReport


def report_csv(report: UsageReport) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["section", "key", "value"])
    scalars = [
        ("points", "granted", report.points_granted),
        ("points", "granted_sponsor_funded", report.points_granted_sponsor_funded),
        ("points", "spent", report.points_spent),
        ("points", "restored", report.points_restored),
        ("points", "clawed_back", report.points_clawed_back),
        ("points", "expired", report.points_expired),
        ("points", "adjusted_up", report.points_adjusted_up),
        ("points", "adjusted_down", report.points_adjusted_down),
        ("points", "outstanding", report.outstanding_points),
        ("members", "enrolled", report.members_enrolled),
        ("members", "active", report.members_active),
        ("members", "issued", report.members_issued),
        ("thanks", "points", report.thanks_points),
        ("thanks", "messages", report.thanks_messages),
    ]
    w.writerow(["report", "period", str(report.period)])
    w.writerow(["report", "time_zone", report.time_zone])
    for row in scalars:
        w.writerow(row)
    sections = [
        ("granted_by_source", report.granted_by_source),
        ("spent_by_source", report.spent_by_source),
        ("top_thanks_senders", report.top_thanks_senders),
        ("top_thanks_receivers", report.top_thanks_receivers),
        ("tier_distribution", report.tier_distribution),
        ("top_items", report.top_items),
        ("lottery_entries", report.lottery_entries),
        ("spent_by_category", report.spent_by_category),
    ]
    for name, items in sections:
        for key, value in items:
            w.writerow([name, key, value])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
