"""Sponsor-funded points per period, straight from the journal (billing's reconciliation).

A sponsor-funded credit is a `credit` (or `adjustment_credit`) transaction with
`sponsor_funded`; a clawback of one is a `reversal` transaction that copied the flag from the
credit it reverses, and the points it actually took back are its member posting (negative):
not the reversal's `amount`, which also covers a shortfall and points that had expired.
These are exactly the facts `points_credited` / `transaction_reversed` announce, so billing's
charges must add up to them.

The scan walks `ix_ledger_tx_sponsor_time` (migration 0005): a partial index holding only
sponsor-funded transactions, with the columns the sums need, so a month of a busy program
is an index-only range scan instead of every transaction of the month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import ColumnElement, Label, Select, and_, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime

from services.accounts.adapters.orm import PostingRow, TransactionRow

CREDIT_TYPES = ("credit", "adjustment_credit")


@dataclass(frozen=True)
class SponsorTotals:
    """One period [start, end) of a program's sponsor-funded journal."""

    start: datetime
    end: datetime
    credited_points: int = 0
    credits: int = 0
    clawed_back_points: int = 0
    clawbacks: int = 0


async def sponsor_funded_span(
    session: AsyncSession, program_id: str
) -> tuple[datetime | None, datetime | None]:
    """The first and last sponsor-funded credit or clawback of the program."""
    t = TransactionRow
    row = (
        await session.execute(
            select(func.min(t.occurred_at), func.max(t.occurred_at)).where(
                t.program_id == program_id,
                t.sponsor_funded,  # as the partial index says it, so the planner may use it
                t.type.in_((*CREDIT_TYPES, "reversal")),
            )
        )
    ).one()
    return row[0], row[1]


async def sponsor_funded_totals(
    session: AsyncSession, program_id: str, boundaries: Sequence[datetime]
) -> list[SponsorTotals]:
    """Totals for each [boundaries[i], boundaries[i+1]) (strictly increasing, checked by the
    caller); periods without sponsor-funded transactions come back as zeros."""
    if len(boundaries) < 2:
        return []
    credits = await _sums(session, _credits(program_id, boundaries))
    clawbacks = await _sums(session, _clawbacks(program_id, boundaries))
    out = []
    for index, (start, end) in enumerate(pairwise(boundaries), 1):
        credited, credit_count = credits.get(index, (0, 0))
        clawed, clawback_count = clawbacks.get(index, (0, 0))
        out.append(SponsorTotals(start, end, credited, credit_count, clawed, clawback_count))
    return out


def _bucket(boundaries: Sequence[datetime]) -> Label[int]:
    """1 for [b0, b1), 2 for [b1, b2), ... (PostgreSQL's width_bucket over the bounds)."""
    bounds = literal(list(boundaries), ARRAY(DateTime(timezone=True)))
    return func.width_bucket(TransactionRow.occurred_at, bounds).label("bucket")


def _in_range(program_id: str, boundaries: Sequence[datetime]) -> list[ColumnElement[bool]]:
    t = TransactionRow
    return [
        t.program_id == program_id,
        t.sponsor_funded.expression,  # as the partial index says it: the planner may use it
        t.occurred_at >= boundaries[0],
        t.occurred_at < boundaries[-1],
    ]


def _credits(program_id: str, boundaries: Sequence[datetime]) -> Select[int, int, int]:
    t = TransactionRow
    return (
        select(_bucket(boundaries), func.sum(t.amount), func.count())
        .where(*_in_range(program_id, boundaries), t.type.in_(CREDIT_TYPES))
        .group_by(literal_column("bucket"))
    )


def _clawbacks(program_id: str, boundaries: Sequence[datetime]) -> Select[int, int, int]:
    """The member posting of a clawback is minus the points it took (none when it took
    nothing: the points had expired or the member had spent them)."""
    t, p = TransactionRow, PostingRow
    return (
        select(_bucket(boundaries), -func.sum(p.amount), func.count())
        .select_from(t)
        .join(p, and_(p.tx_id == t.tx_id, p.program_id == program_id))
        .where(
            *_in_range(program_id, boundaries),
            t.type == "reversal",
            p.account_type == "member",
            p.amount < 0,
        )
        .group_by(literal_column("bucket"))
    )


async def _sums(session: AsyncSession, query: Select[int, int, int]) -> dict[int, tuple[int, int]]:
    rows = await session.execute(query)
    return {int(bucket): (int(points), int(count)) for bucket, points, count in rows}
