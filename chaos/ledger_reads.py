"""Read-only SQL the checker runs against the services' own tables, for what no API shows:
the idempotency key a ledger transaction was written under, the outboxes, the inboxes, the
sagas' holds and reservations. The test never writes these tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from runtime.devstack import libpq_url


@dataclass(frozen=True)
class LedgerTx:
    tx_id: str
    type: str
    account_id: str
    amount: int
    source_type: str
    source_id: str
    key: str
    sponsor_funded: bool
    counterparty: str | None


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    member_id: str
    status: str
    key: str
    points_paid: int
    hold_id: str
    reservation_id: str


class LedgerReads:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)

    async def _rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            cursor = await conn.execute(query, params)
            return list(await cursor.fetchall())

    async def transactions(self, program_id: str) -> list[LedgerTx]:
        rows = await self._rows(
            "SELECT tx_id, type, account_id, amount, source_type, source_id, idempotency_key,"
            " sponsor_funded, counterparty_account_id"
            " FROM accounts.ledger_transactions WHERE program_id = %s",
            (program_id,),
        )
        return [LedgerTx(*row) for row in rows]

    async def member_effects(self, program_id: str) -> dict[str, int]:
        """tx id -> the sum of its member postings (what it did to member balances)."""
        rows = await self._rows(
            "SELECT tx_id, sum(amount) FROM accounts.postings"
            " WHERE program_id = %s AND account_type = 'member' GROUP BY tx_id",
            (program_id,),
        )
        return {tx_id: int(total) for tx_id, total in rows}

    async def orders(self, program_id: str) -> list[OrderRow]:
        rows = await self._rows(
            "SELECT order_id, member_id, status, idempotency_key, coalesce(points_paid, 0),"
            " hold_id, reservation_id FROM redeem.orders WHERE program_id = %s",
            (program_id,),
        )
        return [OrderRow(*row) for row in rows]

    async def open_holds(self, program_id: str) -> list[tuple[str, str, datetime]]:
        """(hold id, source id, expires at) of holds still open."""
        rows = await self._rows(
            "SELECT hold_id, source_id, expires_at FROM accounts.holds"
            " WHERE program_id = %s AND status = 'open'",
            (program_id,),
        )
        return [(str(a), str(b), c) for a, b, c in rows]

    async def open_reservations(self, program_id: str) -> list[tuple[str, str, datetime]]:
        """(reservation id, order id, expires at) of stock reservations still open."""
        rows = await self._rows(
            "SELECT reservation_id, order_id, expires_at FROM catalog.stock_reservations"
            " WHERE program_id = %s AND status = 'open'",
            (program_id,),
        )
        return [(str(a), str(b), c) for a, b, c in rows]

    async def now(self) -> datetime:
        rows = await self._rows("SELECT now()")
        value: datetime = rows[0][0]
        return value

    async def outbox(self, schema: str) -> tuple[set[str], int]:
        """(every event id in the service's outbox, how many are not marked sent)."""
        rows = await self._rows(f'SELECT event_id, sent_at IS NULL FROM "{schema}".outbox_events')
        return {str(r[0]) for r in rows}, sum(1 for r in rows if r[1])

    async def inbox(self, schema: str) -> dict[str, set[str]]:
        """consumer -> the event ids it applied."""
        rows = await self._rows(f'SELECT consumer, event_id FROM "{schema}".inbox_events')
        applied: dict[str, set[str]] = defaultdict(set)
        for consumer, event_id in rows:
            applied[str(consumer)].add(str(event_id))
        return applied
