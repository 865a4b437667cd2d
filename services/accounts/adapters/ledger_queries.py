"""Read-side queries of the ledger: balances, history pages, program-wide verification."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import InvalidArgument
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.orm import PostingRow, TransactionRow
from services.accounts.domain.model import Transaction

MAX_PAGE = 200
DEFAULT_PAGE = 50


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE:
        raise InvalidArgument(f"page_size must be between 0 and {MAX_PAGE}", field="page.page_size")
    return requested or DEFAULT_PAGE


def encode_cursor(occurred_at: datetime, tx_id: str) -> str:
    raw = json.dumps([occurred_at.isoformat(), tx_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, tx_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(at), str(tx_id)
    except (ValueError, TypeError):
        raise InvalidArgument(
            "page_token is not one this service issued", field="page.page_token"
        ) from None


async def history_page(
    session: AsyncSession,
    program_id: str,
    account_id: str,
    *,
    size: int,
    token: str,
    since: datetime | None,
    until: datetime | None,
    types: list[str],
) -> tuple[list[Transaction], str]:
    """Newest first; keyset paging on (occurred_at, tx_id), stable under concurrent writes."""
    t = TransactionRow
    query = select(t.tx_id, t.occurred_at).where(
        t.program_id == program_id,
        or_(t.account_id == account_id, t.counterparty_account_id == account_id),
    )
    if since is not None:
        query = query.where(t.occurred_at >= since)
    if until is not None:
        query = query.where(t.occurred_at < until)
    if types:
        query = query.where(t.type.in_(types))
    cursor = decode_cursor(token)
    if cursor is not None:
        at, last = cursor
        query = query.where(or_(t.occurred_at < at, and_(t.occurred_at == at, t.tx_id < last)))
    rows = (
        await session.execute(query.order_by(t.occurred_at.desc(), t.tx_id.desc()).limit(size + 1))
    ).all()
    repo = LedgerRepository(session, program_id)
    page = [await repo.transaction(tx_id) for tx_id, _ in rows[:size]]
    next_token = encode_cursor(rows[size - 1][1], rows[size - 1][0]) if len(rows) > size else ""
    return page, next_token


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    accounts_checked: int = 0
    system: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    member_balances: int = 0
    held: int = 0


CHECKS = {
    "transaction {0} postings sum to {1}, not 0": """
        SELECT tx_id, sum(amount) FROM postings WHERE program_id = :p
        GROUP BY tx_id HAVING sum(amount) <> 0""",
    "account {0}: available {1} != lots remaining {2} - deficit {3}": """
        SELECT a.account_id, a.available, coalesce(l.r, 0), a.deficit
        FROM point_accounts a
        LEFT JOIN (SELECT account_id, sum(remaining) AS r FROM lots WHERE program_id = :p
                   GROUP BY account_id) l ON l.account_id = a.account_id
        WHERE a.program_id = :p AND a.available <> coalesce(l.r, 0) - a.deficit""",
    "account {0}: held {1} != open holds {2}": """
        SELECT a.account_id, a.held, coalesce(h.s, 0)
        FROM point_accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS s FROM holds
                   WHERE program_id = :p AND status = 'open' GROUP BY account_id) h
          ON h.account_id = a.account_id
        WHERE a.program_id = :p AND a.held <> coalesce(h.s, 0)""",
    "account {0}: journal balance {1} != available {2} + held {3}": """
        SELECT a.account_id, coalesce(j.s, 0), a.available, a.held
        FROM point_accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings
                   WHERE program_id = :p AND account_type = 'member' GROUP BY account_id) j
          ON j.account_id = a.account_id
        WHERE a.program_id = :p AND coalesce(j.s, 0) <> a.available + a.held""",
    "lot {0}: remaining {1} outside 0..{2}": """
        SELECT lot_id, remaining, amount FROM lots
        WHERE program_id = :p AND (remaining < 0 OR remaining > amount)""",
}


async def verify_program(session: AsyncSession, program_id: str) -> Verification:
    """Prove the ledger's invariants for one program from its rows."""
    result = Verification()
    for message, sql in CHECKS.items():
        for row in await session.execute(text(sql), {"p": program_id}):
            result.problems.append(message.format(*row))
    for account_id, total in await session.execute(
        select(PostingRow.account_id, func.sum(PostingRow.amount))
        .where(PostingRow.program_id == program_id, PostingRow.account_type == "system")
        .group_by(PostingRow.account_id)
    ):
        result.system[account_id] = int(total)
    totals = (
        await session.execute(
            text(
                "SELECT count(*), coalesce(sum(available), 0), coalesce(sum(held), 0) "
                "FROM point_accounts WHERE program_id = :p"
            ),
            {"p": program_id},
        )
    ).one()
    result.accounts_checked, result.member_balances, result.held = (int(v) for v in totals)
    conserved = sum(result.system.values()) + result.member_balances + result.held
    if conserved != 0:
        result.problems.append(
            f"points not conserved: system accounts {dict(result.system)} + balances "
            f"{result.member_balances} + held {result.held} = {conserved}, not 0"
        )
    return result
