"""Usage reports and member growth, from billing's event-derived tables."""

from __future__ import annotations

from runtime.programs.spec import ProgramSpec
from services.billing.adapters.repository import BillingRepository
from services.billing.domain.periods import Period, periods_between
from services.billing.domain.reports import MemberCounts, UsageReport
from services.billing.domain.usage import Metric, top

MAX_GROWTH_PERIODS = 120


async def member_counts(repo: BillingRepository, spec: ProgramSpec, period: Period) -> MemberCounts:
    zone = spec.zone
    start, end = period.start(zone), period.end(zone)
    enrolled, closed, at_end = await repo.member_counts(start, end)
    return MemberCounts(
        period=period,
        enrolled=enrolled,
        closed=closed,
        members_at_end=at_end,
        active=await repo.active_count(period),
        issued=await repo.issued_ids(start, end),
    )


async def growth(
    repo: BillingRepository, spec: ProgramSpec, first: Period, last: Period
) -> list[MemberCounts]:
    return [await member_counts(repo, spec, p) for p in periods_between(first, last)]


async def usage_report(
    repo: BillingRepository, spec: ProgramSpec, period: Period, *, with_growth: bool = False
) -> UsageReport:
    counters = await repo.counters(period)

    def total(metric: Metric) -> int:
        return sum(counters.get(metric, {}).values())

    def by_key(metric: Metric) -> list[tuple[str, int]]:
        return top(counters.get(metric, {}), n=1000)

    senders = top(counters.get(Metric.THANKS_SENT, {}))
    receivers = top(counters.get(Metric.THANKS_RECEIVED, {}))
    refs = await repo.external_refs([account for account, _ in senders + receivers])
    counts = await member_counts(repo, spec, period)
    tiers = await repo.tier_distribution(period.end(spec.zone))
    return UsageReport(
        period=period,
        time_zone=spec.time_zone,
        program_name=spec.display_name,
        points_granted=total(Metric.GRANTED),
        granted_by_source=by_key(Metric.GRANTED),
        points_granted_sponsor_funded=total(Metric.GRANTED_SPONSOR_FUNDED),
        points_spent=total(Metric.SPENT),
        spent_by_source=by_key(Metric.SPENT),
        points_restored=total(Metric.RESTORED),
        points_clawed_back=total(Metric.CLAWED_BACK),
        points_expired=total(Metric.EXPIRED),
        points_adjusted_up=total(Metric.ADJUSTED_UP),
        points_adjusted_down=total(Metric.ADJUSTED_DOWN),
        outstanding_points=await repo.counter_total_until(period, Metric.LIABILITY),
        members_enrolled=counts.enrolled,
        members_active=counts.active,
        members_issued=counts.issued,
        thanks_points=total(Metric.THANKS_POINTS),
        thanks_messages=total(Metric.THANKS_MESSAGES),
        top_thanks_senders=[(refs.get(a, a), n) for a, n in senders],
        top_thanks_receivers=[(refs.get(a, a), n) for a, n in receivers],
        tier_distribution=sorted(tiers.items()),
        top_items=[(sku, n) for sku, n in top(counters.get(Metric.ITEMS_REDEEMED, {})) if n > 0],
        lottery_entries=by_key(Metric.LOTTERY_ENTRIES),
        spent_by_category=[(c, n) for c, n in by_key(Metric.SPENT_BY_CATEGORY) if n != 0],
        growth=await growth(repo, spec, period.plus(-11), period) if with_growth else [],
    )
