"""Queries on billing's event-derived tables: programs, members, charges, usage counters,
activity and tier changes. Every query filters on the program."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.adapters.orm import (
    BillingProgramRow,
    ChargeRow,
    MemberActivityRow,
    MemberRow,
    TierChangeRow,
    UsageCounterRow,
)
from services.billing.domain.invoices import ChargeGroup
from services.billing.domain.periods import Period
from services.billing.domain.reconciliation import Tally


class BatchWrites:
    """What a batch of events adds to charges, usage counters, member activity and program start
    dates, gathered in memory and written with one statement per table when the batch ends (in
    its transaction). Rows, sums, sets and minimums: written once they give what writing them
    event by event gave. No event handler reads them; the drafts, which do, are recomputed
    after this is flushed."""

    def __init__(self) -> None:
        self.counters: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.active: set[tuple[str, str, str]] = set()
        self.first_seen: dict[str, date] = {}
        self.no_later_than: dict[str, date] = {}
        self.charges: list[dict[str, object]] = []

    def clear(self) -> None:
        self.charges.clear()
        self.counters.clear()
        self.active.clear()
        self.first_seen.clear()
        self.no_later_than.clear()

    async def flush(self, session: AsyncSession) -> None:
        if self.first_seen:
            await session.execute(
                insert(BillingProgramRow)
                .values([{"program_id": p, "started_on": d} for p, d in self.first_seen.items()])
                .on_conflict_do_nothing()
            )
        for program_id, day in sorted(self.no_later_than.items()):
            await session.execute(
                update(BillingProgramRow)
                .where(BillingProgramRow.program_id == program_id)
                .where(BillingProgramRow.started_on > day)
                .values(started_on=day)
            )
        if self.charges:
            # Keyed by event id: a charge already there (another copy of its event) adds nothing.
            await session.execute(
                insert(ChargeRow)
                .values(self.charges)
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
        # Sorted: replicas flushing overlapping batches lock rows in the same order.
        counters = sorted((k, v) for k, v in self.counters.items() if v != 0)
        if counters:
            stmt = insert(UsageCounterRow).values(
                [
                    {"program_id": p, "period": period, "metric": m, "key": key, "value": v}
                    for (p, period, m, key), v in counters
                ]
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["program_id", "period", "metric", "key"],
                    set_={"value": UsageCounterRow.value + stmt.excluded.value},
                )
            )
        if self.active:
            await session.execute(
                insert(MemberActivityRow)
                .values(
                    [
                        {"program_id": p, "period": period, "account_id": a}
                        for p, period, a in sorted(self.active)
                    ]
                )
                .on_conflict_do_nothing()
            )
        self.clear()


class BillingRepository:
    def __init__(
        self, session: AsyncSession, program_id: str, writes: BatchWrites | None = None
    ) -> None:
        self.session = session
        self.program_id = program_id
        # A batch's counters, activity and start dates, written when it ends (None: now).
        self.writes = writes

    # ---- the program ------------------------------------------------------------------------

    async def ensure_program(self, today: date) -> None:
        if self.writes is not None:
            self.writes.first_seen.setdefault(self.program_id, today)
            return
        await self.session.execute(
            insert(BillingProgramRow)
            .values(program_id=self.program_id, started_on=today)
            .on_conflict_do_nothing()
        )

    async def start_no_later_than(self, day: date) -> None:
        """Billing began after events it replays: the program started at least that early."""
        await self.ensure_program(day)
        if self.writes is not None:
            known = self.writes.no_later_than.get(self.program_id, day)
            self.writes.no_later_than[self.program_id] = min(known, day)
            return
        await self.session.execute(
            update(BillingProgramRow)
            .where(BillingProgramRow.program_id == self.program_id)
            .where(BillingProgramRow.started_on > day)
            .values(started_on=day)
        )

    async def started_on(self) -> date | None:
        return await self.session.scalar(
            select(BillingProgramRow.started_on).where(
                BillingProgramRow.program_id == self.program_id
            )
        )

    # ---- members ----------------------------------------------------------------------------

    async def enrolled(self, account_id: str, external_ref: str, at: datetime) -> None:
        await self.session.execute(
            insert(MemberRow)
            .values(
                program_id=self.program_id,
                account_id=account_id,
                external_ref=external_ref,
                enrolled_at=at,
            )
            .on_conflict_do_update(
                index_elements=["program_id", "account_id"],
                set_={"enrolled_at": at, "external_ref": external_ref},
            )
        )

    async def status_changed(self, account_id: str, closed: bool, at: datetime) -> None:
        """Record a close (or a reopening); an older change arriving late is ignored."""
        closed_at = at if closed else None
        stmt = insert(MemberRow).values(
            program_id=self.program_id,
            account_id=account_id,
            closed_at=closed_at,
            status_changed_at=at,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["program_id", "account_id"],
                set_={"closed_at": closed_at, "status_changed_at": at},
                where=or_(MemberRow.status_changed_at.is_(None), MemberRow.status_changed_at < at),
            )
        )

    def _issued(self, start: datetime, end: datetime) -> ColumnElement[bool]:
        # The rule of domain/members.py:is_issued, in SQL.
        return and_(
            MemberRow.program_id == self.program_id,
            MemberRow.enrolled_at.is_not(None),
            MemberRow.enrolled_at < end,
            or_(MemberRow.closed_at.is_(None), MemberRow.closed_at >= start),
        )

    async def issued_ids(self, start: datetime, end: datetime) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(MemberRow).where(self._issued(start, end))
        )
        return int(count or 0)

    async def member_counts(self, start: datetime, end: datetime) -> tuple[int, int, int]:
        """(enrolled in, closed in, members at the end of) [start, end)."""
        m = MemberRow
        row = (
            await self.session.execute(
                select(
                    func.count().filter(m.enrolled_at >= start, m.enrolled_at < end),
                    func.count().filter(
                        m.enrolled_at.is_not(None), m.closed_at >= start, m.closed_at < end
                    ),
                    func.count().filter(
                        m.enrolled_at < end, or_(m.closed_at.is_(None), m.closed_at >= end)
                    ),
                ).where(m.program_id == self.program_id)
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def mark_active(self, period: Period, account_id: str) -> None:
        if not account_id:
            return
        if self.writes is not None:
            self.writes.active.add((self.program_id, str(period), account_id))
            return
        await self.session.execute(
            insert(MemberActivityRow)
            .values(program_id=self.program_id, period=str(period), account_id=account_id)
            .on_conflict_do_nothing()
        )

    async def active_count(self, period: Period) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(MemberActivityRow)
            .where(
                MemberActivityRow.program_id == self.program_id,
                MemberActivityRow.period == str(period),
            )
        )
        return int(count or 0)

    async def external_refs(self, account_ids: list[str]) -> dict[str, str]:
        rows = await self.session.execute(
            select(MemberRow.account_id, MemberRow.external_ref).where(
                MemberRow.program_id == self.program_id, MemberRow.account_id.in_(account_ids)
            )
        )
        return {a: r for a, r in rows if r}

    # ---- charges ----------------------------------------------------------------------------

    async def add_charge(self, values: dict[str, object]) -> bool:
        """False when the event's charge is already there (in a batch: written at its end, so
        always True; the inbox has already let each event through once)."""
        if self.writes is not None:
            self.writes.charges.append({"program_id": self.program_id, **values})
            return True
        inserted = await self.session.execute(
            insert(ChargeRow)
            .values(program_id=self.program_id, **values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(ChargeRow.charge_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def charge_groups(self, period: Period) -> list[ChargeGroup]:
        rows = await self.session.execute(
            select(
                ChargeRow.occurred_period,
                ChargeRow.unit_yen,
                ChargeRow.reversal,
                func.sum(ChargeRow.points),
            )
            .where(ChargeRow.program_id == self.program_id, ChargeRow.billed_period == str(period))
            .group_by(ChargeRow.occurred_period, ChargeRow.unit_yen, ChargeRow.reversal)
        )
        return [
            ChargeGroup(Period.parse(occurred), int(unit), int(points), bool(reversal))
            for occurred, unit, reversal, points in rows
        ]

    async def grants_yen(self, start: datetime, end: datetime) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(ChargeRow.amount_yen), 0)).where(
                ChargeRow.program_id == self.program_id,
                ChargeRow.occurred_at >= start,
                ChargeRow.occurred_at < end,
            )
        )
        return int(total or 0)

    async def billed_by_occurred_period(self) -> dict[Period, Tally]:
        rows = await self.session.execute(
            select(ChargeRow.occurred_period, func.sum(ChargeRow.points), func.count())
            .where(ChargeRow.program_id == self.program_id)
            .group_by(ChargeRow.occurred_period)
        )
        return {Period.parse(p): Tally(int(points), int(count)) for p, points, count in rows}

    # ---- usage counters ---------------------------------------------------------------------

    async def count(self, period: Period, metric: str, key: str, delta: int) -> None:
        if delta == 0:
            return
        if self.writes is not None:
            self.writes.counters[(self.program_id, str(period), metric, key)] += delta
            return
        stmt = insert(UsageCounterRow).values(
            program_id=self.program_id, period=str(period), metric=metric, key=key, value=delta
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["program_id", "period", "metric", "key"],
                set_={"value": UsageCounterRow.value + stmt.excluded.value},
            )
        )

    async def counters(self, period: Period) -> dict[str, dict[str, int]]:
        rows = await self.session.execute(
            select(UsageCounterRow.metric, UsageCounterRow.key, UsageCounterRow.value).where(
                UsageCounterRow.program_id == self.program_id,
                UsageCounterRow.period == str(period),
            )
        )
        result: dict[str, dict[str, int]] = {}
        for metric, key, value in rows:
            result.setdefault(metric, {})[key] = int(value)
        return result

    async def counter_total_until(self, period: Period, metric: str) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(UsageCounterRow.value), 0)).where(
                UsageCounterRow.program_id == self.program_id,
                UsageCounterRow.metric == metric,
                UsageCounterRow.period <= str(period),  # "YYYY-MM" sorts as text
            )
        )
        return int(total or 0)

    # ---- tiers ------------------------------------------------------------------------------

    async def tier_changed(
        self, event_id: str, account_id: str, tier_id: str, at: datetime
    ) -> None:
        await self.session.execute(
            insert(TierChangeRow)
            .values(
                program_id=self.program_id,
                event_id=event_id,
                account_id=account_id,
                tier_id=tier_id,
                changed_at=at,
            )
            .on_conflict_do_nothing()
        )

    async def tier_distribution(self, end: datetime) -> dict[str, int]:
        """Members per tier at `end`: each member's latest change before it."""
        latest = (
            select(TierChangeRow.account_id, TierChangeRow.tier_id)
            .where(TierChangeRow.program_id == self.program_id, TierChangeRow.changed_at < end)
            .ext(distinct_on(TierChangeRow.account_id))
            .order_by(
                TierChangeRow.account_id, TierChangeRow.changed_at.desc(), TierChangeRow.event_id
            )
            .subquery()
        )
        rows = await self.session.execute(
            select(latest.c.tier_id, func.count()).group_by(latest.c.tier_id)
        )
        return {tier: int(n) for tier, n in rows}
