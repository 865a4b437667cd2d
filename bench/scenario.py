"""What a scenario module provides and what the harness hands it.

A scenario (`bench/scenarios/<name>.py`) exposes `SCENARIO = Scenario(name, services, run)`:
`services` are started as processes before it runs, and `run(ctx)` returns its figures, each
measured with `ctx.measure(...)` (timed closed-loop phases) or `ctx.measure_once(...)` (one
sweep or load) so every figure gets the same latency, throughput and CPU accounting.

`prepare(stack)`, when given, runs once right after the stack started, before any scenario:
for what a scenario's services must not do while other scenarios measure (billing pauses its
consumers, so it does not apply their events on the cores they are measured on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import psycopg

from bench import cpu
from bench.load import Operation, closed_loop, timed
from bench.profiling import Profiler
from bench.progress import Console
from bench.results import Figure, Stats
from bench.sizes import Sizes
from bench.stack import BenchStack


@dataclass
class BenchContext:
    stack: BenchStack
    sizes: Sizes
    console: Console
    profiler: Profiler | None = None
    figures: list[Figure] = field(default_factory=list)  # earlier scenarios' in this run

    async def measure(
        self,
        label: str,
        op: Operation,
        *,
        clients: int,
        pid: int | None,
        profile_as: str | None = None,
        also_profile: dict[str, int] | None = None,
    ) -> Stats:
        """A timed closed-loop phase: warm-up, then `sizes.measure_seconds` of load.
        `pid` is the service process whose CPU is accounted (and profiled, if asked);
        `also_profile` names other services that work for every call (profiled as
        `<profile_as>.<name>`), e.g. accounts behind earn's purchases."""
        s = self.sizes
        async with self._profiling(profile_as, pid, also_profile):
            with self.console.bar(label, s.warmup_seconds + s.measure_seconds, unit="s") as bar:
                before, began = self._cpu(pid), time.perf_counter()
                result = await closed_loop(
                    op,
                    clients=clients,
                    warmup=s.warmup_seconds,
                    duration=s.measure_seconds,
                    max_calls=s.max_calls,
                    bar=bar,
                )
                after = self._cpu(pid)
        stats = Stats.of(result, cpu.share(before, after, time.perf_counter() - began))
        self._report(label, stats)
        return stats

    async def measure_once(
        self,
        label: str,
        work: Callable[[], Awaitable[int]],
        *,
        pid: int | None,
        profile_as: str | None = None,
    ) -> Stats:
        """One run of `work` (returns the entries it did), e.g. a whole expiry sweep."""
        async with self._profiling(profile_as, pid):
            before, began = self._cpu(pid), time.perf_counter()
            self.console.log(f"{label} ...")
            result = await timed(work)
            after = self._cpu(pid)
        stats = Stats.of(result, cpu.share(before, after, time.perf_counter() - began))
        self._report(label, stats)
        return stats

    def _cpu(self, pid: int | None) -> cpu.CpuSnapshot | None:
        return cpu.snapshot(pid, self.stack.database, self.stack.pids())

    @asynccontextmanager
    async def _profiling(
        self, operation: str | None, pid: int | None, others: dict[str, int] | None = None
    ) -> AsyncIterator[None]:
        if self.profiler is None or operation is None or pid is None:
            yield
            return
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.profiler.record(operation, pid))
            for name, other in (others or {}).items():
                await stack.enter_async_context(self.profiler.record(f"{operation}.{name}", other))
            yield

    def _report(self, label: str, stats: Stats) -> None:
        latency = ""
        if stats.p50_ms is not None and stats.calls > 1:
            latency = f", p50 {stats.p50_ms:.1f} ms, p99 {stats.p99_ms:.1f} ms"
        errors = f", [red]{stats.errors} errors[/red]" if stats.errors else ""
        self.console.log(f"{label}: {stats.throughput:,.0f}/s{latency}{errors}")
        for sample in stats.error_samples:
            self.console.log(f"  [red]{sample}[/red]")

    async def outbox_settled(self, schema: str, *, timeout: float = 300) -> float:
        """Wait until the service's outbox relay published every event (so one phase's
        publishing does not run into the next); returns the seconds waited."""
        began = time.perf_counter()
        async with await psycopg.AsyncConnection.connect(self.stack.dsn, autocommit=True) as c:
            while True:
                cursor = await c.execute(
                    f"SELECT count(*) FROM {schema}.outbox_events WHERE sent_at IS NULL"
                )
                row = await cursor.fetchone()
                waited = time.perf_counter() - began
                if row is None or row[0] == 0 or waited > timeout:
                    return round(waited, 2)
                await asyncio.sleep(0.25)


@dataclass(frozen=True)
class Scenario:
    name: str
    services: Sequence[str]
    run: Callable[[BenchContext], Awaitable[list[Figure]]]
    prepare: Callable[[BenchStack], Awaitable[None]] | None = None
