"""The raw PostgreSQL baseline: the same rows the service writes, written by plain SQL from
psycopg, measured in the same run beside each service figure.

Writes go to a schema `raw` whose tables are copies of the service's (`CREATE TABLE ... (LIKE
accounts.x INCLUDING ALL)`: same columns, constraints and indexes), so the service's outbox
relay never sees the baseline's outbox rows. Reads use the service's own tables. Each baseline
does only what the work needs: no ORM, no gRPC, no domain planning, one round trip per
statement, and the statements a correct ledger cannot skip.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.loaders import Population, settle
from runtime.ids import uuid7

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

WRITE_TABLES = (
    "ledger_transactions",
    "postings",
    "lots",
    "point_accounts",
    "outbox_events",
    "idempotency_keys",
    "transaction_lot_draws",
)

# Payloads the size of the service's own: an EventEnvelope holding PointsCredited, a stored
# CreditResponse, a SHA-256 request fingerprint.
ENVELOPE = os.urandom(320)
RESPONSE = os.urandom(220)
FINGERPRINT = os.urandom(32)


async def create_raw_schema(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in WRITE_TABLES:
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS raw.{table} (LIKE accounts.{table} INCLUDING ALL)"
            )


async def copy_population_to_raw(dsn: str, pop: Population) -> None:
    """The population's accounts and lots, for the baseline to update as the service does."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for table in ("point_accounts", "lots"):
            await conn.execute(
                f"INSERT INTO raw.{table} SELECT * FROM accounts.{table} WHERE program_id = %s",
                (pop.program_id,),
            )
        await settle(conn, ("raw.point_accounts", "raw.lots"))


async def connect_many(dsn: str, n: int) -> list[Conn]:
    return [await psycopg.AsyncConnection.connect(dsn) for _ in range(n)]


async def close_all(conns: Sequence[Conn]) -> None:
    for conn in conns:
        await conn.close()


def _id() -> str:
    """The ids the services write (time-ordered), so the baseline's indexes grow alike."""
    return str(uuid7())


def _rows(columns: int, n: int) -> str:
    one = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([one] * n)


_TX_COLUMNS = (
    "tx_id, program_id, type, account_id, amount, occurred_at, source_type, source_id, reason, "
    "actor, idempotency_key, kind, sponsor_funded, reversed_amount, shortfall"
)
_LOT_COLUMNS = (
    "lot_id, program_id, account_id, kind, amount, remaining, expired_amount, earned_at, "
    "expires_at, source_tx_id"
)
_INSERT_TX = f"INSERT INTO raw.ledger_transactions ({_TX_COLUMNS}) VALUES "
_INSERT_POSTINGS = (
    "INSERT INTO raw.postings (tx_id, program_id, account_type, account_id, amount) VALUES "
)
_INSERT_LOTS = f"INSERT INTO raw.lots ({_LOT_COLUMNS}) VALUES "
_INSERT_OUTBOX = (
    "INSERT INTO raw.outbox_events (event_id, program_id, subject, envelope, headers, attempts) "
    "VALUES "
)
_INSERT_IDEMPOTENCY = (
    "INSERT INTO raw.idempotency_keys (program_id, scope, key, request_hash, response) "
    "VALUES (%s, %s, %s, %s, %s)"
)
_ADD_AVAILABLE = (
    "UPDATE raw.point_accounts AS a SET available = a.available + v.delta "
    "FROM (VALUES {rows}) AS v(account_id, delta) WHERE a.account_id = v.account_id"
)
# As the service does: lock a batch's accounts in id order first, so concurrent batches that
# share accounts wait for each other instead of deadlocking in the UPDATE's join order.
_LOCK_ACCOUNTS = (
    "SELECT 1 FROM raw.point_accounts WHERE account_id = ANY(%s) ORDER BY account_id FOR UPDATE"
)


def _tx(
    pop: Population, tx_id: str, tx_type: str, account: str, amount: int, now: datetime, key: str
) -> list[Any]:
    source = "order" if tx_type == "debit" else "rule"
    kind = None if tx_type == "debit" else "normal"
    return [tx_id, pop.program_id, tx_type, account, amount, now, source, "bench", "bench",
            "bench-backend", key, kind, False, 0, 0]  # fmt: skip


def _outbox(pop: Population, event: str) -> list[Any]:
    subject = f"tamaru.evt.{pop.program_id}.accounts.{event}"
    return [_id(), pop.program_id, subject, ENVELOPE, "{}", 0]


class RawLedger:
    """One psycopg connection per concurrent client, like the service's pool would give."""

    def __init__(self, conns: Sequence[Conn], pop: Population) -> None:
        self.conns = conns
        self.pop = pop

    async def credit(self, client: int, index: int, amount: int) -> int:
        """ledger_transactions + 2 postings + lot + point_accounts update + outbox + key."""
        pop, conn = self.pop, self.conns[client]
        account, tx_id, key, now = pop.account_id(index), _id(), _id(), datetime.now(UTC)
        async with conn.transaction():
            await conn.execute(
                _INSERT_TX + _rows(15, 1), _tx(pop, tx_id, "credit", account, amount, now, key)
            )
            await conn.execute(
                _INSERT_POSTINGS + _rows(5, 2),
                [tx_id, pop.program_id, "member", account, amount,
                 tx_id, pop.program_id, "system", "issued", -amount],
            )  # fmt: skip
            await conn.execute(
                _INSERT_LOTS + _rows(10, 1),
                [_id(), pop.program_id, account, "normal", amount, amount, 0, now, None, tx_id],
            )
            await conn.execute(
                "UPDATE raw.point_accounts SET available = available + %s WHERE account_id = %s",
                (amount, account),
            )
            await conn.execute(_INSERT_OUTBOX + _rows(6, 1), _outbox(pop, "points_credited"))
            await conn.execute(
                _INSERT_IDEMPOTENCY, (pop.program_id, "accounts.Credit", key, FINGERPRINT, RESPONSE)
            )
        return 1

    async def debit(self, client: int, index: int, amount: int) -> int:
        """ledger_transactions + 2 postings + lot draw + lot update + account update + outbox
        + key (the account's one loaded lot pays)."""
        pop, conn = self.pop, self.conns[client]
        account, lot = pop.account_id(index), pop.lot_id(index, 0)
        tx_id, key, now = _id(), _id(), datetime.now(UTC)
        async with conn.transaction():
            await conn.execute(
                _INSERT_TX + _rows(15, 1), _tx(pop, tx_id, "debit", account, amount, now, key)
            )
            await conn.execute(
                _INSERT_POSTINGS + _rows(5, 2),
                [tx_id, pop.program_id, "member", account, -amount,
                 tx_id, pop.program_id, "system", "redeemed", amount],
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO raw.transaction_lot_draws (tx_id, lot_id, role, amount) "
                "VALUES (%s, %s, 'spent', %s)",
                (tx_id, lot, amount),
            )
            await conn.execute(
                "UPDATE raw.lots SET remaining = remaining - %s WHERE lot_id = %s", (amount, lot)
            )
            await conn.execute(
                "UPDATE raw.point_accounts SET available = available - %s WHERE account_id = %s",
                (amount, account),
            )
            await conn.execute(_INSERT_OUTBOX + _rows(6, 1), _outbox(pop, "points_debited"))
            await conn.execute(
                _INSERT_IDEMPOTENCY, (pop.program_id, "accounts.Debit", key, FINGERPRINT, RESPONSE)
            )
        return 1

    async def batch_credit(self, client: int, indexes: Sequence[int], amount: int) -> int:
        """A batch as multi-row inserts: n transactions, 2n postings, n lots, one UPDATE of
        n accounts, n outbox rows and the batch's idempotency key."""
        pop, conn, n = self.pop, self.conns[client], len(indexes)
        now, batch_key = datetime.now(UTC), _id()
        txs: list[Any] = []
        postings: list[Any] = []
        lots: list[Any] = []
        deltas: list[Any] = []
        outbox: list[Any] = []
        for position, index in enumerate(indexes):
            account, tx_id = pop.account_id(index), _id()
            txs += _tx(pop, tx_id, "credit", account, amount, now, f"{batch_key}#{position}")
            postings += [tx_id, pop.program_id, "member", account, amount,
                         tx_id, pop.program_id, "system", "issued", -amount]  # fmt: skip
            lots += [_id(), pop.program_id, account, "normal", amount, amount, 0, now, None, tx_id]
            deltas += [account, amount]
            outbox += _outbox(pop, "points_credited")
        async with conn.transaction():
            await conn.execute(_LOCK_ACCOUNTS, (sorted({str(a) for a in deltas[::2]}),))
            await conn.execute(_INSERT_TX + _rows(15, n), txs)
            await conn.execute(_INSERT_POSTINGS + _rows(5, 2 * n), postings)
            await conn.execute(_INSERT_LOTS + _rows(10, n), lots)
            await conn.execute(
                _ADD_AVAILABLE.format(rows=", ".join(["(%s, %s::bigint)"] * n)), deltas
            )
            await conn.execute(_INSERT_OUTBOX + _rows(6, n), outbox)
            await conn.execute(
                _INSERT_IDEMPOTENCY,
                (pop.program_id, "accounts.BatchCredit", batch_key, FINGERPRINT, RESPONSE),
            )
        return n


class RawReader:
    """GetBalance's three reads (member, account, lots by kind and expiry) in one transaction,
    on the service's own tables."""

    def __init__(self, conns: Sequence[Conn], pop: Population) -> None:
        self.conns = conns
        self.pop = pop

    async def balance(self, client: int, index: int) -> int:
        pop, conn = self.pop, self.conns[client]
        account = pop.account_id(index)
        async with conn.transaction(force_rollback=True):
            member = await conn.execute(
                "SELECT member_id FROM accounts.members WHERE program_id = %s AND member_id = %s",
                (pop.program_id, account),
            )
            if await member.fetchone() is None:
                raise LookupError(f"member {account} not loaded")
            await conn.execute(
                "SELECT account_id, program_id, status, available, held, deficit, merged_into "
                "FROM accounts.point_accounts WHERE program_id = %s AND account_id = %s",
                (pop.program_id, account),
            )
            lots = await conn.execute(
                "SELECT kind, expires_at, sum(remaining) FROM accounts.lots "
                "WHERE program_id = %s AND account_id = %s AND remaining > 0 "
                "AND (expires_at IS NULL OR expires_at > %s) GROUP BY kind, expires_at",
                (pop.program_id, account, datetime.now(UTC)),
            )
            await lots.fetchall()
        return 1


async def raw_expiry_sweep(dsn: str, now: datetime, batch: int) -> int:
    """The expiry sweep's writes over `raw`, batch by batch: for each account one expiry
    transaction with 2 postings, a draw per lot, the lots zeroed, the account debited and one
    outbox row. Returns the lots expired."""
    expired = 0
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        while True:
            async with conn.transaction():
                due = await (
                    await conn.execute(
                        "SELECT lot_id, program_id, account_id, remaining FROM raw.lots "
                        "WHERE remaining > 0 AND expires_at <= %s ORDER BY expires_at LIMIT %s "
                        "FOR UPDATE",
                        (now, batch),
                    )
                ).fetchall()
                if not due:
                    return expired
                await _expire(conn, due, now)
            expired += len(due)


async def _expire(conn: Conn, due: Sequence[tuple[Any, ...]], now: datetime) -> None:
    by_account: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for lot_id, program_id, account_id, remaining in due:
        by_account[(program_id, account_id)].append((lot_id, remaining))
    tx_ids = {key: _id() for key in by_account}
    keys = list(by_account)
    totals = [sum(r for _, r in by_account[k]) for k in keys]
    programs = [p for p, _ in keys]
    accounts = [a for _, a in keys]
    await conn.execute(
        f"INSERT INTO raw.ledger_transactions ({_TX_COLUMNS}) "
        "SELECT t, p, 'expiry', a, n, %s, 'system', 'expiry', 'points reached their expiry date', "
        "'system', '', NULL, false, 0, 0 FROM unnest(%s::text[], %s::text[], %s::text[], "
        "%s::bigint[]) AS u(t, p, a, n)",
        (now, [tx_ids[k] for k in keys], programs, accounts, totals),
    )
    await conn.execute(
        "INSERT INTO raw.postings (tx_id, program_id, account_type, account_id, amount) "
        "SELECT t, p, 'member', a, -n FROM unnest(%s::text[], %s::text[], %s::text[], "
        "%s::bigint[]) AS u(t, p, a, n) UNION ALL "
        "SELECT t, p, 'system', 'expired', n FROM unnest(%s::text[], %s::text[], "
        "%s::bigint[]) AS v(t, p, n)",
        ([tx_ids[k] for k in keys], programs, accounts, totals,
         [tx_ids[k] for k in keys], programs, totals),
    )  # fmt: skip
    draw_tx = [tx_ids[(p, a)] for _, p, a, _ in due]
    await conn.execute(
        "INSERT INTO raw.transaction_lot_draws (tx_id, lot_id, role, amount) "
        "SELECT t, l, 'expired', n FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS u(t, l, n)",
        (draw_tx, [d[0] for d in due], [d[3] for d in due]),
    )
    await conn.execute(
        "UPDATE raw.lots SET expired_amount = expired_amount + remaining, remaining = 0 "
        "WHERE lot_id = ANY(%s::text[])",
        ([d[0] for d in due],),
    )
    await conn.execute(
        "UPDATE raw.point_accounts AS a SET available = a.available - u.n "
        "FROM unnest(%s::text[], %s::bigint[]) AS u(id, n) WHERE a.account_id = u.id",
        (accounts, totals),
    )
    await conn.execute(
        "INSERT INTO raw.outbox_events (event_id, program_id, subject, envelope, headers, "
        "attempts) SELECT e, p, 'tamaru.evt.' || p || '.accounts.points_expired', %s, '{}', 0 "
        "FROM unnest(%s::text[], %s::text[]) AS u(e, p)",
        (ENVELOPE, [_id() for _ in keys], programs),
    )
