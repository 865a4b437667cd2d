"""Who used the CPU during a measured phase: the service process, this load generator,
PostgreSQL (our database's backends plus the server's own background processes), the rest of
the bench's stack (the other services, which work for the measured one's calls, and its NATS
server) and anything else on the machine. Read from /proc, so Linux only (elsewhere every
figure is None).

On a 2-core machine this is what says whether a figure is limited by the service's single
Python core, by PostgreSQL, or by the load generator sharing PostgreSQL's core.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# A backend's title names its client address; background processes (checkpointer, WAL
# writer, autovacuum) have none and serve every database.
_CLIENT = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]|::1\(\d+\)")


@dataclass(frozen=True)
class CpuSnapshot:
    service: float  # CPU seconds so far
    generator: float
    postgres: dict[int, float]  # per process: backends come and go during a phase
    stack: float  # the stack's other processes
    busy: float  # the whole machine


@dataclass(frozen=True)
class CpuShare:
    """Cores used on average during a phase (1.0 = one core busy all the time)."""

    service: float
    generator: float
    postgres: float
    other: float  # outside the bench: someone else's work, which disturbs the figures
    seconds: float
    stack: float = 0.0  # the other services (accounts behind earn, say) and NATS

    def per_entry_ms(self, throughput: float) -> dict[str, float]:
        """CPU milliseconds each part spent per entry (credit, read, lot...) at `throughput`
        entries per second."""
        if throughput <= 0:
            return {}
        return {
            "service": round(self.service * 1000 / throughput, 3),
            "generator": round(self.generator * 1000 / throughput, 3),
            "postgres": round(self.postgres * 1000 / throughput, 3),
            "stack": round(self.stack * 1000 / throughput, 3),
        }


async def wait_for_quiet(
    *, max_seconds: float, busy_below: float = 0.3, quiet_for: int = 3
) -> float:
    """Wait (at most `max_seconds`) until the machine has used under `busy_below` cores for
    `quiet_for` consecutive seconds, so other work (someone's test run) does not skew the
    figures. Returns the cores busy in the last second measured."""
    if not available():
        return 0.0
    deadline = time.monotonic() + max_seconds
    quiet, busy = 0, 0.0
    while quiet < quiet_for and time.monotonic() < deadline:
        before = _machine_busy()
        await asyncio.sleep(1.0)
        busy = _machine_busy() - before
        quiet = quiet + 1 if busy < busy_below else 0
    return round(busy, 2)


def available() -> bool:
    return (_PROC / "stat").exists()


def _process_seconds(pid: int) -> float:
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the command name: state is field 3, so utime/stime (14/15) are [11] and [12].
    return (int(fields[11]) + int(fields[12])) / _TICK


def _postgres_seconds(database: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if database in title or not _CLIENT.search(title):
            found[int(entry.name)] = _process_seconds(int(entry.name))
    return found


def _machine_busy() -> float:
    first = (_PROC / "stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in first]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICK


def snapshot(
    service_pid: int | None, database: str, stack_pids: Sequence[int] = ()
) -> CpuSnapshot | None:
    """`stack_pids`: the bench stack's processes (services, NATS); the measured service and
    the bench itself among them are counted in their own columns only."""
    if not available():
        return None
    # A phase whose "service" is the bench process itself (the expiry sweep) has no
    # generator apart from it: counting the process in both columns hid the relay's CPU.
    in_bench = service_pid == os.getpid()
    own = {service_pid, os.getpid()}
    return CpuSnapshot(
        service=_process_seconds(service_pid) if service_pid else 0.0,
        generator=0.0 if in_bench else _process_seconds(os.getpid()),
        postgres=_postgres_seconds(database),
        stack=sum(_process_seconds(pid) for pid in set(stack_pids) - own),
        busy=_machine_busy(),
    )


def share(before: CpuSnapshot | None, after: CpuSnapshot | None, seconds: float) -> CpuShare | None:
    if before is None or after is None or seconds <= 0:
        return None
    service = (after.service - before.service) / seconds
    generator = (after.generator - before.generator) / seconds
    # A backend that exited during the phase took its CPU time with it (not counted); one that
    # started during it counts from zero.
    postgres = sum(t - before.postgres.get(pid, 0.0) for pid, t in after.postgres.items())
    postgres /= seconds
    stack = (after.stack - before.stack) / seconds
    busy = (after.busy - before.busy) / seconds
    return CpuShare(
        service=round(service, 3),
        generator=round(generator, 3),
        postgres=round(postgres, 3),
        other=round(max(busy - service - generator - postgres - stack, 0.0), 3),
        seconds=round(seconds, 3),
        stack=round(stack, 3),
    )
