"""Tiers: count a member's qualifying points, let the domain decide the tier, store it on the
member and announce `tier_changed`.

Qualifying points (kept simple on purpose, see docs/members.md): the member's `credit`
transactions whose `occurred_at` falls in the window (rolling 12 months, or the calendar year,
in the program's time zone), each counted as its amount minus what reversals took back
(`reversed_amount`). Adjustments, transfers and merges' balance moves do not count; credits of
members merged into this one do.

When tiers are recomputed: on SetManualTier, on GetMember, and by `refresh_tiers_batch`
(meant for the sweeper, since a rolling window drops old points without any request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from runtime.programs.spec import ProgramSpec
from services.accounts.adapters.event_mapping import to_proto
from services.accounts.adapters.member_queries import member_not_found
from services.accounts.adapters.orm import MemberRow, TransactionRow
from services.accounts.domain.commands import ManualTierMode, SetManualTier
from services.accounts.domain.members import ensure_open
from services.accounts.domain.model import Account, AccountStatus, TxType
from services.accounts.domain.tiers import (
    Earning,
    ManualTier,
    Tier,
    TierBasis,
    TierDecision,
    TierPolicy,
    compute_tier,
    plan_manual_tier,
    tier_change,
    window_start,
)
from services.accounts.service_layer.members import lock_member

_BASIS = {"rolling12Months": TierBasis.ROLLING_12_MONTHS, "calendarYear": TierBasis.CALENDAR_YEAR}


def tier_policy(spec: ProgramSpec) -> TierPolicy:
    return TierPolicy(
        basis=_BASIS[spec.tiers.basis],
        tiers=tuple(Tier(level.id, level.min_points) for level in spec.tiers.levels),
    )


def default_manual_mode(spec: ProgramSpec) -> ManualTierMode:
    return ManualTierMode(spec.tiers.manual_tier)


def manual_of(row: MemberRow) -> ManualTier | None:
    if not row.manual_tier_id:
        return None
    return ManualTier(
        row.manual_tier_id, ManualTierMode(row.manual_tier_mode), row.manual_tier_until
    )


@dataclass(frozen=True)
class TierView:
    """A member's tier now: the domain's decision plus the manual tier it considered."""

    decision: TierDecision
    manual: ManualTier | None
    stored_tier_id: str  # what members.tier_id says (stale until refreshed)


async def qualifying_points(
    session: AsyncSession, program_id: str, account_id: str, start: datetime, now: datetime
) -> int:
    merged = select(literal(account_id).label("id")).cte("merged", recursive=True)
    merged = merged.union(
        select(MemberRow.member_id).where(
            MemberRow.program_id == program_id, MemberRow.merged_into == merged.c.id
        )
    )
    t = TransactionRow
    total = await session.scalar(
        select(func.coalesce(func.sum(t.amount - t.reversed_amount), 0)).where(
            t.program_id == program_id,
            t.type == TxType.CREDIT.value,
            t.account_id.in_(select(merged.c.id)),
            t.occurred_at >= start,
            t.occurred_at <= now,
        )
    )
    return int(total or 0)


async def decide(
    session: AsyncSession, program_id: str, row: MemberRow, spec: ProgramSpec, now: datetime
) -> TierView:
    policy = tier_policy(spec)
    start = window_start(policy.basis, now, spec.time_zone)
    points = await qualifying_points(session, program_id, row.member_id, start, now)
    manual = manual_of(row)
    # One aggregate earning inside the window: the sum is all compute_tier needs.
    decision = compute_tier(policy, [Earning(start, points)], now, spec.time_zone, manual)
    return TierView(decision, manual, row.tier_id)


async def current_tier(
    session: AsyncSession,
    program_id: str,
    account_id: str,
    spec: ProgramSpec,
    now: datetime | None = None,
) -> TierView:
    """Read-only: the tier the member holds now (nothing is stored)."""
    row = await session.scalar(
        select(MemberRow).where(
            MemberRow.program_id == program_id, MemberRow.member_id == account_id
        )
    )
    if row is None:
        raise member_not_found(account_id)
    return await decide(session, program_id, row, spec, now or datetime.now(UTC))


async def _store(
    uow: UnitOfWork, program_id: str, row: MemberRow, view: TierView, now: datetime
) -> None:
    account = Account(row.member_id, program_id, AccountStatus(row.status))
    changed = tier_change(account, row.tier_id, view.decision, now)
    if changed is None:
        return
    await uow.session.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == row.member_id)
        .values(tier_id=view.decision.tier_id)
    )
    event = to_proto(changed)
    event.member_external_ref = row.external_ref  # type: ignore[attr-defined]
    await uow.emit(program_id, "tier_changed", event, aggregate_id=row.member_id, occurred_at=now)


async def refresh_tier(
    uow: UnitOfWork,
    program_id: str,
    account_id: str,
    spec: ProgramSpec,
    now: datetime | None = None,
) -> TierView:
    """Recompute the member's tier, store it and emit `tier_changed` if it changed. Merged
    members keep what they had (their points now count for the survivor)."""
    now = now or datetime.now(UTC)
    row = await lock_member(uow.session, program_id, account_id)
    view = await decide(uow.session, program_id, row, spec, now)
    if row.status != AccountStatus.MERGED.value:
        await _store(uow, program_id, row, view, now)
    return view


async def set_manual_tier(
    uow: UnitOfWork, program_id: str, cmd: SetManualTier, spec: ProgramSpec
) -> TierView:
    now = datetime.now(UTC)
    manual = plan_manual_tier(cmd, tier_policy(spec), now)
    row = await lock_member(uow.session, program_id, cmd.account_id)
    ensure_open(AccountStatus(row.status))
    await uow.session.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == cmd.account_id)
        .values(
            manual_tier_id=manual.tier_id if manual else "",
            manual_tier_mode=manual.mode.value if manual else "",
            manual_tier_until=manual.until if manual else None,
            updated_at=now,
        )
    )
    return await refresh_tier(uow, program_id, cmd.account_id, spec, now)


async def refresh_tiers_batch(
    uow: UnitOfWork,
    program_id: str,
    spec: ProgramSpec,
    *,
    after: str = "",
    limit: int = 500,
    now: datetime | None = None,
) -> str:
    """Recompute the tiers of up to `limit` members with ids above `after` (active and
    suspended ones). Returns the last id done, to pass as `after` next time; "" when the
    program is done. For a periodic worker: call it in its own transaction per batch."""
    now = now or datetime.now(UTC)
    ids = list(
        await uow.session.scalars(
            select(MemberRow.member_id)
            .where(
                MemberRow.program_id == program_id,
                MemberRow.member_id > after,
                MemberRow.status.in_([AccountStatus.ACTIVE.value, AccountStatus.SUSPENDED.value]),
            )
            .order_by(MemberRow.member_id)
            .limit(limit)
        )
    )
    for account_id in ids:
        await refresh_tier(uow, program_id, account_id, spec, now)
    return ids[-1] if len(ids) == limit else ""
