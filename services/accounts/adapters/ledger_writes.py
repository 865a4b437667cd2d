"""A plan's rows written set-based: one array per column through `unnest`, and every insert and
update of a plan in one statement (data-modifying CTEs).

A credit is then one round trip for its transaction, postings, lot and account, and a sweep
batch of 5,000 lots is one statement too, whatever the number of rows. Per-row statements
(SQLAlchemy's executemany of a bulk UPDATE) cost a parse, bind and execute per row here, which
made them most of a sweep's time.

The statements go to psycopg as they are (`runtime.db.driver`), with `%(name)b` placeholders:
psycopg dumps a list in binary about five times faster than as an array literal (which it
quotes element by element with a regular expression).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import execute
from services.accounts.domain.model import Hold, Lot, Transaction
from services.accounts.domain.plan import LedgerPlan

# (column, PostgreSQL array element type); the order is the statement's column order.
Columns = tuple[tuple[str, str], ...]

TX_COLUMNS: Columns = (
    ("tx_id", "text"),
    ("program_id", "text"),
    ("type", "text"),
    ("account_id", "text"),
    ("amount", "bigint"),
    ("occurred_at", "timestamptz"),
    ("source_type", "text"),
    ("source_id", "text"),
    ("reason", "text"),
    ("actor", "text"),
    ("idempotency_key", "text"),
    ("kind", "text"),
    ("sponsor_funded", "boolean"),
    ("counterparty_account_id", "text"),
    ("hold_id", "text"),
    ("reverses_tx_id", "text"),
    ("reversed_amount", "bigint"),
    ("shortfall", "bigint"),
)
POSTING_COLUMNS: Columns = (
    ("tx_id", "text"),
    ("program_id", "text"),
    ("account_type", "text"),
    ("account_id", "text"),
    ("amount", "bigint"),
)
DRAW_COLUMNS: Columns = (
    ("tx_id", "text"),
    ("lot_id", "text"),
    ("role", "text"),
    ("amount", "bigint"),
)
LOT_COLUMNS: Columns = (
    ("lot_id", "text"),
    ("program_id", "text"),
    ("account_id", "text"),
    ("kind", "text"),
    ("amount", "bigint"),
    ("remaining", "bigint"),
    ("expired_amount", "bigint"),
    ("earned_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("source_tx_id", "text"),
)
HOLD_COLUMNS: Columns = (
    ("hold_id", "text"),
    ("program_id", "text"),
    ("account_id", "text"),
    ("amount", "bigint"),
    ("status", "text"),
    ("created_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("settled_at", "timestamptz"),
    ("captured_amount", "bigint"),
    ("settle_tx_id", "text"),
    ("source_type", "text"),
    ("source_id", "text"),
    ("reason", "text"),
    ("actor", "text"),
    ("idempotency_key", "text"),
)
ALLOCATION_COLUMNS: Columns = (("hold_id", "text"), ("lot_id", "text"), ("amount", "bigint"))
# Updates: the key column first, then the columns set.
LOT_UPDATE_COLUMNS: Columns = (
    ("lot_id", "text"),
    ("account_id", "text"),  # a merge moves lots to the survivor
    ("remaining", "bigint"),
    ("expired_amount", "bigint"),
)
ACCOUNT_UPDATE_COLUMNS: Columns = (
    ("account_id", "text"),
    ("status", "text"),
    ("available", "bigint"),
    ("held", "bigint"),
    ("deficit", "bigint"),
    ("merged_into", "text"),
)


@dataclass(frozen=True, slots=True)
class Part:
    """One table's rows of a plan: an INSERT, or an UPDATE keyed by its first column."""

    table: str
    columns: Columns
    update: bool = False

    @property
    def prefix(self) -> str:
        return f"{'u' if self.update else 'i'}_{self.table}"

    def sql(self, varying: tuple[bool, ...]) -> str:
        """The statement for rows whose columns flagged in `varying` differ between rows (one
        array each); the others hold one value for every row (one scalar parameter each)."""
        p = self.prefix
        names = [c for c, _ in self.columns]
        values = [
            f"u.{c}" if vary else f"CAST(%({p}_{c})s AS {t})"
            for (c, t), vary in zip(self.columns, varying, strict=True)
        ]
        arrays = [
            f"CAST(%({p}_{c})b AS {t}[])"
            for (c, t), vary in zip(self.columns, varying, strict=True)
            if vary
        ]
        unnested = [c for c, vary in zip(names, varying, strict=True) if vary]
        source = f" FROM unnest({', '.join(arrays)}) AS u({', '.join(unnested)})" if arrays else ""
        if not self.update:
            return (
                f"INSERT INTO {self.table} ({', '.join(names)}) SELECT {', '.join(values)}{source}"
            )
        assignments = ", ".join(f"{c} = {v}" for c, v in zip(names[1:], values[1:], strict=True))
        key = names[0]
        # With many rows, the keys again as `= ANY(array)`: the planner then fetches exactly
        # those rows by primary key. Joined to unnest() alone (which it guesses small), it
        # chose a hash join over a scan of the program's whole table. That holds for a plan
        # made with the arrays' values; see `SetWriter.execute` for one made without them.
        by_key = f" AND t.{key} = ANY(CAST(%({p}_{key})b AS text[]))" if varying[0] else ""
        return (
            f"UPDATE {self.table} AS t SET {assignments}{source} "
            f"WHERE t.{key} = {values[0]}{by_key} AND t.program_id = %(program_id)s"
        )

    def params(self, rows: Sequence[Sequence[Any]]) -> tuple[tuple[bool, ...], dict[str, Any]]:
        """Rows (tuples in column order) -> which columns vary, and per column its array of
        values, or its one value when every row has the same (most of a sweep's columns: the
        same program, type, moment, reason... in every row)."""
        varying: list[bool] = []
        params: dict[str, Any] = {}
        for i, column in enumerate(zip(*rows, strict=True)):
            # The key always varies between rows, so an all-constant part is a single row.
            vary = len(rows) > 1 and (i == 0 or column.count(column[0]) != len(column))
            varying.append(vary)
            params[f"{self.prefix}_{self.columns[i][0]}"] = list(column) if vary else column[0]
        return tuple(varying), params


TRANSACTIONS = Part("ledger_transactions", TX_COLUMNS)
POSTINGS = Part("postings", POSTING_COLUMNS)
DRAWS = Part("transaction_lot_draws", DRAW_COLUMNS)
LOTS = Part("lots", LOT_COLUMNS)
HOLDS = Part("holds", HOLD_COLUMNS)
ALLOCATIONS = Part("hold_allocations", ALLOCATION_COLUMNS)
LOT_UPDATES = Part("lots", LOT_UPDATE_COLUMNS, update=True)
ACCOUNT_UPDATES = Part("point_accounts", ACCOUNT_UPDATE_COLUMNS, update=True)

Shape = tuple[tuple[Part, tuple[bool, ...]], ...]

# One statement per shape: which parts a plan has and which of their columns vary. A credit,
# a debit, a sweep batch... each has one or a few, so the cache stays small and psycopg
# prepares each statement once it has run a few times.
_STATEMENTS: dict[Shape, str] = {}

# An UPDATE of more rows than this is planned with its arrays each time (not prepared). Once
# prepared, PostgreSQL's generic plan guessed the `= ANY(keys)` fetch to find one row, put it
# on the outer side of a nested loop and compared every fetched row with every unnested one:
# 25 million comparisons, 7 seconds, for a sweep batch of 5,000 lots. Planning each time costs
# well under a millisecond; up to this size the generic plan's comparisons cost less than that.
PLAN_WITH_VALUES_ABOVE = 32


def _statement(shape: Shape) -> str:
    *first, last = shape
    ctes = ", ".join(f"w{i} AS ({part.sql(varying)})" for i, (part, varying) in enumerate(first))
    return f"WITH {ctes} {last[0].sql(last[1])}" if ctes else last[0].sql(last[1])


class SetWriter:
    """Collects a plan's rows per part, then writes them all with one statement."""

    def __init__(self, program_id: str) -> None:
        self._params: dict[str, Any] = {"program_id": program_id}
        self._shape: list[tuple[Part, tuple[bool, ...]]] = []
        self._largest_update = 0

    def add(self, part: Part, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            varying, params = part.params(rows)
            self._shape.append((part, varying))
            self._params.update(params)
            if part.update:
                self._largest_update = max(self._largest_update, len(rows))

    @property
    def prepare(self) -> bool | None:
        """psycopg's `prepare` for this statement: False (planned with its values) when an
        update is too large for the generic plan (`PLAN_WITH_VALUES_ABOVE`)."""
        return False if self._largest_update > PLAN_WITH_VALUES_ABOVE else None

    async def execute(self, session: AsyncSession) -> None:
        if not self._shape:
            return
        shape = tuple(self._shape)
        statement = _STATEMENTS.get(shape)
        if statement is None:
            statement = _STATEMENTS[shape] = _statement(shape)
        await execute(session, statement, self._params, prepare=self.prepare)


def plan_writer(plan: LedgerPlan, program_id: str) -> SetWriter:
    """The rows of everything a plan inserts, and of the lots and accounts it updates."""
    writer = SetWriter(program_id)
    txs = plan.transactions
    writer.add(TRANSACTIONS, [_tx_row(t) for t in txs])
    writer.add(
        POSTINGS,
        [
            (t.tx_id, t.program_id, p.account.type, p.account.id, p.amount)
            for t in txs
            for p in t.postings
        ],
    )
    writer.add(DRAWS, merge_draws(txs))
    # Later states win (as executing the updates one by one would). A lot the plan both
    # creates and changes is inserted in its final state: one statement's parts all see the
    # same snapshot, so an UPDATE could not find a row inserted beside it.
    lot_updates = {lot.lot_id: lot for lot in plan.lot_updates}
    new_lots = [lot_updates.pop(lot.lot_id, lot) for lot in plan.new_lots]
    writer.add(LOTS, [_lot_row(lot, program_id) for lot in new_lots])
    writer.add(
        LOT_UPDATES,
        [(x.lot_id, x.account_id, x.remaining, x.expired_amount) for x in lot_updates.values()],
    )
    accounts = {a.account_id: a for a in plan.account_updates}
    writer.add(
        ACCOUNT_UPDATES,
        [
            (a.account_id, a.status.value, a.available, a.held, a.deficit, a.merged_into)
            for a in accounts.values()
        ],
    )
    writer.add(HOLDS, [hold_row(h) for h in plan.new_holds])
    writer.add(
        ALLOCATIONS,
        [(h.hold_id, a.lot_id, a.amount) for h in plan.new_holds for a in h.allocations],
    )
    return writer


def _tx_row(t: Transaction) -> tuple[Any, ...]:
    return (
        t.tx_id,
        t.program_id,
        t.type.value,
        t.account_id,
        t.amount,
        t.occurred_at,
        t.source.type.value,
        t.source.id,
        t.reason,
        t.actor,
        t.idempotency_key,
        t.kind,
        t.sponsor_funded,
        t.counterparty_account_id,
        t.hold_id,
        t.reverses_tx_id,
        t.reversed_amount,
        t.shortfall,
    )


def _lot_row(lot: Lot, program_id: str) -> tuple[Any, ...]:
    return (
        lot.lot_id,
        program_id,
        lot.account_id,
        lot.kind,
        lot.amount,
        lot.remaining,
        lot.expired_amount,
        lot.earned_at,
        lot.expires_at,
        lot.source_tx_id,
    )


def hold_row(h: Hold) -> tuple[Any, ...]:
    return (
        h.hold_id,
        h.program_id,
        h.account_id,
        h.amount,
        h.status.value,
        h.created_at,
        h.expires_at,
        h.settled_at,
        h.captured_amount,
        h.settle_tx_id,
        h.source.type.value,
        h.source.id,
        h.reason,
        h.actor,
        h.idempotency_key,
    )


def merge_draws(transactions: Sequence[Transaction]) -> list[tuple[str, str, str, int]]:
    """(tx, lot, role) is the key: a spend drawing twice from one lot is stored once, summed."""
    merged: dict[tuple[str, str, str], int] = {}
    for t in transactions:
        for role, draws in (("spent", t.spent), ("expired", t.expired)):
            for d in draws:
                key = (t.tx_id, d.lot_id, role)
                merged[key] = merged.get(key, 0) + d.amount
    return [(tx, lot, role, amount) for (tx, lot, role), amount in merged.items()]
