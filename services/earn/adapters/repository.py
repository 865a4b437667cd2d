"""Queries on earn's own tables: rule usage counters, purchases, offers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import execute, fetch_all
from services.earn.adapters.orm import OfferRow, PurchaseRow, RuleUsageRow
from services.earn.domain.usage_tally import UsageTally

TOTAL = "*"  # account_id of a rule's total (budget) counter


_USAGE = RuleUsageRow.__tablename__
# New counters are created in one order (sorted by rule, then account) and existing ones
# locked in one SQL order, whoever asks (a purchase alone or a chunk), so two transactions
# never wait for each other in a cycle.
_CREATE_COUNTERS = (
    f"INSERT INTO {_USAGE} (program_id, rule_id, account_id, points) "
    "SELECT %(p)s, r, a, 0 FROM unnest(%(key_rules)b::text[], %(key_who)b::text[]) "
    "WITH ORDINALITY AS t(r, a, i) ORDER BY i ON CONFLICT DO NOTHING"
)
_READ_COUNTERS = (
    f"SELECT rule_id, account_id, points FROM {_USAGE} WHERE program_id = %(p)s "
    "AND rule_id = ANY(%(rules)b::text[]) AND account_id = ANY(%(who)b::text[]) "
    "ORDER BY rule_id, account_id"
)
_LOCK_COUNTERS = f"{_READ_COUNTERS} FOR UPDATE"
_ADD_COUNTERS = (
    f"UPDATE {_USAGE} AS u SET points = u.points + d.points "
    "FROM unnest(%(rules)b::text[], %(who)b::text[], %(points)b::bigint[]) "
    "AS d(rule_id, account_id, points) "
    "WHERE u.program_id = %(p)s AND u.rule_id = d.rule_id AND u.account_id = d.account_id"
)


async def usage_tally(
    session: AsyncSession,
    program_id: str,
    account_ids: Iterable[str],
    rule_ids: Iterable[str],
    *,
    lock: bool,
) -> UsageTally:
    """What capped rules gave these members and in total, in two statements however many
    members. With `lock`, the counters are created if new and locked until commit, so
    concurrent purchases never overrun a cap or budget together."""
    rules = sorted(set(rule_ids))
    if not rules:
        return UsageTally()
    who = sorted({*account_ids, TOTAL})
    if lock:
        keys = [(r, a) for r in rules for a in who]  # sorted: both lists are
        await execute(
            session,
            _CREATE_COUNTERS,
            {"p": program_id, "key_rules": [r for r, _ in keys], "key_who": [a for _, a in keys]},
        )
    tally = UsageTally()
    params = {"p": program_id, "rules": rules, "who": who}
    for rule_id, account, points in await fetch_all(
        session, _LOCK_COUNTERS if lock else _READ_COUNTERS, params
    ):
        if account == TOTAL:
            tally.in_total[rule_id] = int(points)
        else:
            tally.by_member[(rule_id, account)] = int(points)
    return tally


async def save_usage_tally(session: AsyncSession, program_id: str, tally: UsageTally) -> None:
    """Write what purchases added to the counters `usage_tally` locked."""
    changes = [(r, a, n) for (r, a), n in tally.added_by_member.items() if n] + [
        (r, TOTAL, n) for r, n in tally.added_in_total.items() if n
    ]
    if changes:
        rules, who, points = (list(column) for column in zip(*changes, strict=True))
        await execute(
            session, _ADD_COUNTERS, {"p": program_id, "rules": rules, "who": who, "points": points}
        )


# A chunk's purchase rows as one short fixed statement (one array per column): the ORM's
# multi-row INSERT of 100 rows is a new 1,600-parameter statement each time, which psycopg
# parses uncached and SQLAlchemy compiles, a fifth of a chunk's CPU.
_INSERT_PURCHASES = (
    f"INSERT INTO {PurchaseRow.__tablename__} (program_id, purchase_id, account_id, channel, "
    "store, amount_yen, lines, returned_by_line, occurred_at, points_earned, breakdown, "
    "credits, returned_yen, points_reversed, rules_generation, offer_issue_id) "
    "SELECT %(p)s, purchase_id, account_id, channel, store, amount_yen, lines, returned, at, "
    "points, breakdown, credits, 0, 0, generation, offer FROM unnest("
    "%(ids)b::text[], %(accounts)b::text[], %(channels)b::text[], %(stores)b::text[], "
    "%(yen)b::bigint[], %(lines)b::text[]::jsonb[], %(returned)b::text[]::jsonb[], "
    "%(at)b::timestamptz[], %(points)b::bigint[], %(breakdown)b::text[]::jsonb[], "
    "%(credits)b::text[]::jsonb[], %(generation)b::bigint[], %(offer)b::text[]) AS t("
    "purchase_id, account_id, channel, store, amount_yen, lines, returned, at, points, "
    "breakdown, credits, generation, offer)"
)


@dataclass(frozen=True, slots=True)
class NewPurchase:
    """A purchase to store (`insert_purchases`) and announce: what a PurchaseRow starts as,
    without the ORM's instrumentation, which cost more than the INSERT's own client work."""

    program_id: str
    purchase_id: str
    account_id: str
    channel: str
    store: str
    amount_yen: int
    lines: list[dict[str, Any]]  # {"sku", "category", "amount_yen"}
    occurred_at: datetime
    points_earned: int
    breakdown: list[dict[str, Any]]
    credits: dict[str, Any]  # {kind: {"transaction_id", "points"}}
    rules_generation: int
    offer_issue_id: str


async def insert_purchases(
    session: AsyncSession, program_id: str, rows: Sequence[NewPurchase]
) -> None:
    """Store new purchases with one statement, however many (nothing returned or reversed
    yet)."""
    if not rows:
        return
    params = {
        "p": program_id,
        "ids": [r.purchase_id for r in rows],
        "accounts": [r.account_id for r in rows],
        "channels": [r.channel for r in rows],
        "stores": [r.store for r in rows],
        "yen": [r.amount_yen for r in rows],
        "lines": [json.dumps(r.lines) for r in rows],
        "returned": [json.dumps([0] * len(r.lines)) for r in rows],
        "at": [r.occurred_at for r in rows],
        "points": [r.points_earned for r in rows],
        "breakdown": [json.dumps(r.breakdown) for r in rows],
        "credits": [json.dumps(r.credits) for r in rows],
        "generation": [r.rules_generation for r in rows],
        "offer": [r.offer_issue_id for r in rows],
    }
    await execute(session, _INSERT_PURCHASES, params)


async def purchase_for_update(
    session: AsyncSession, program_id: str, purchase_id: str
) -> PurchaseRow | None:
    return (
        await session.scalars(
            select(PurchaseRow)
            .where(PurchaseRow.program_id == program_id, PurchaseRow.purchase_id == purchase_id)
            .with_for_update()
        )
    ).first()


async def held_offer(
    session: AsyncSession, program_id: str, account_id: str, offer_issue_id: str, *, lock: bool
) -> OfferRow | None:
    query = select(OfferRow).where(
        OfferRow.program_id == program_id,
        OfferRow.account_id == account_id,
        OfferRow.offer_issue_id == offer_issue_id,
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def member_offers(
    session: AsyncSession, program_id: str, account_id: str, now: datetime
) -> list[OfferRow]:
    rows = await session.scalars(
        select(OfferRow)
        .where(OfferRow.program_id == program_id, OfferRow.account_id == account_id)
        .order_by(OfferRow.issued_at.desc(), OfferRow.offer_issue_id)
    )
    return list(rows)


async def purchases_page(
    session: AsyncSession,
    program_id: str,
    account_id: str,
    *,
    size: int,
    after: tuple[datetime, str] | None,
    since: datetime | None,
    until: datetime | None,
    store: str,
    channel: str,
) -> list[PurchaseRow]:
    """Newest first; one row more than `size` tells the caller another page exists."""
    query = select(PurchaseRow).where(
        PurchaseRow.program_id == program_id, PurchaseRow.account_id == account_id
    )
    if since is not None:
        query = query.where(PurchaseRow.occurred_at >= since)
    if until is not None:
        query = query.where(PurchaseRow.occurred_at < until)
    if store:
        query = query.where(PurchaseRow.store == store)
    if channel:
        query = query.where(PurchaseRow.channel == channel)
    if after is not None:
        query = query.where(
            tuple_(PurchaseRow.occurred_at, PurchaseRow.purchase_id) < tuple_(*after)
        )
    query = query.order_by(PurchaseRow.occurred_at.desc(), PurchaseRow.purchase_id.desc())
    return list(await session.scalars(query.limit(size + 1)))
