"""What a run left behind: the database's disk use (largest tables first) and each service
process's peak memory, recorded with every run (`make bench-scale` asks for both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from bench.stack import BenchStack

_TABLES = (
    "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "ORDER BY 2 DESC LIMIT 5"
)


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM: the most resident memory the process ever had (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


async def measure(stack: BenchStack) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(stack.dsn, autocommit=True) as conn:
        row = await (await conn.execute("SELECT pg_database_size(current_database())")).fetchone()
        tables = await (await conn.execute(_TABLES)).fetchall()
    return {
        "database_bytes": int(row[0]) if row else 0,
        "largest_tables_bytes": {str(name): int(size) for name, size in tables},
        "service_peak_rss_bytes": {s.name: peak_rss_bytes(s.pid) for s in stack.services.values()},
    }


def describe(footprint: dict[str, Any]) -> str:
    def _size(n: int | None) -> str:
        return (
            "n/a" if n is None else f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
        )

    tables = ", ".join(f"{t} {_size(n)}" for t, n in footprint["largest_tables_bytes"].items())
    memory = ", ".join(
        f"{name} {_size(n)}" for name, n in footprint["service_peak_rss_bytes"].items()
    )
    return (
        f"footprint: database {_size(footprint['database_bytes'])} (largest: {tables}); "
        f"service peak memory: {memory}"
    )
