"""Bulk loads straight into the `accounts` schema with COPY: members, their point accounts and
lots, at a million rows a table without a million RPCs.

Ids are derived from a population's tag and the member's index, so a load generator can pick
"member 123,456" without holding a million ids in memory. Loaded lots have no journal rows
behind them (no credit transaction): the bench measures reads, writes and sweeps, not Verify.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from bench.progress import Console

CHUNK = 20_000  # rows per write to the COPY stream


@dataclass(frozen=True)
class LotSpec:
    """One lot every member of a population gets."""

    amount: int
    expires_at: datetime | None
    kind: str = "normal"


@dataclass(frozen=True)
class Population:
    program_id: str
    size: int
    lots: tuple[LotSpec, ...]
    tag: int

    @classmethod
    def new(cls, program_id: str, size: int, lots: Sequence[LotSpec]) -> Population:
        return cls(program_id, size, tuple(lots), secrets.randbits(32))

    def account_id(self, index: int) -> str:
        """UUID-shaped (the columns hold 36 characters), unique per population and index."""
        return f"{self.tag:08x}-0000-4000-8000-{index:012x}"

    def lot_id(self, index: int, lot: int) -> str:
        return f"{self.tag:08x}-{lot + 1:04x}-4000-8000-{index:012x}"

    @property
    def balance(self) -> int:
        return sum(spec.amount for spec in self.lots)

    @property
    def lot_count(self) -> int:
        return self.size * len(self.lots)


def _stamp(value: datetime | None) -> str:
    return r"\N" if value is None else value.isoformat()


def _members(pop: Population, joined: str) -> Iterator[str]:
    for i in range(pop.size):
        member = pop.account_id(i)
        yield (
            f"{member}\t{pop.program_id}\tbench-{pop.tag:08x}-{i}\tMember {i}\t"
            f"m{i}@bench.example\t\\N\t\tactive\t\t\t\t{joined}\n"
        )


def _accounts(pop: Population) -> Iterator[str]:
    balance = pop.balance
    for i in range(pop.size):
        yield f"{pop.account_id(i)}\t{pop.program_id}\tactive\t{balance}\t0\t0\n"


def _lots(pop: Population, earned: str) -> Iterator[str]:
    specs = [(j, s.kind, s.amount, _stamp(s.expires_at)) for j, s in enumerate(pop.lots)]
    for i in range(pop.size):
        account = pop.account_id(i)
        for j, kind, amount, expires in specs:
            lot = pop.lot_id(i, j)
            yield (
                f"{lot}\t{pop.program_id}\t{account}\t{kind}\t{amount}\t{amount}\t0\t"
                f"{earned}\t{expires}\t{lot}\n"
            )


_MEMBER_COLUMNS = (
    "member_id, program_id, external_ref, display_name, email, group_id, profile_image_url, "
    "status, tier_id, manual_tier_id, manual_tier_mode, joined_at"
)
_ACCOUNT_COLUMNS = "account_id, program_id, status, available, held, deficit"
_LOT_COLUMNS = (
    "lot_id, program_id, account_id, kind, amount, remaining, expired_amount, earned_at, "
    "expires_at, source_tx_id"
)


async def _copy(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    console: Console,
    label: str,
    statement: str,
    rows: Iterator[str],
    total: int,
) -> None:
    with console.bar(label, total) as bar:
        async with conn.cursor() as cur, cur.copy(sql.SQL(statement)) as copy:
            chunk: list[str] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) == CHUNK:
                    await copy.write("".join(chunk))
                    bar.advance(len(chunk))
                    chunk.clear()
            if chunk:
                await copy.write("".join(chunk))
                bar.advance(len(chunk))


async def load_population(dsn: str, pop: Population, console: Console) -> None:
    """COPY the population's members, point accounts and lots into `accounts`, then `settle`
    the tables."""
    now = datetime.now(UTC).isoformat()
    label = f"{pop.program_id}: {pop.size:,} members"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await _copy(
            conn,
            console,
            f"{label} (members)",
            f"COPY accounts.members ({_MEMBER_COLUMNS}) FROM STDIN",
            _members(pop, now),
            pop.size,
        )
        await _copy(
            conn,
            console,
            f"{label} (point_accounts)",
            f"COPY accounts.point_accounts ({_ACCOUNT_COLUMNS}) FROM STDIN",
            _accounts(pop),
            pop.size,
        )
        await _copy(
            conn,
            console,
            f"{label} (lots)",
            f"COPY accounts.lots ({_LOT_COLUMNS}) FROM STDIN",
            _lots(pop, now),
            pop.lot_count,
        )
        await settle(conn, ("accounts.members", "accounts.point_accounts", "accounts.lots"))


async def settle(conn: psycopg.AsyncConnection[Any], tables: Sequence[str]) -> None:
    """Bring freshly loaded tables to the state a running database keeps them in, so the
    phases after a load measure their own work and not the load's aftermath: VACUUM sets the
    rows' hint bits and the visibility map (autovacuum would, and it may be off, as on this
    machine; otherwise the first read of each row dirties its page), ANALYZE tells the planner
    the new sizes, and CHECKPOINT writes the load's dirty pages now (otherwise the checkpoint
    the load's WAL triggered spreads those writes, gigabytes at 1M accounts, over the next
    minutes' phases). CHECKPOINT needs a superuser or pg_checkpoint: without either, the
    phases run during that checkpoint, as they did before."""
    await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        await conn.execute("CHECKPOINT")
