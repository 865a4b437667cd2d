"""Runs scenarios against one stack and writes the results: what `python -m bench` does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import autoanalyze, cpu, footprint, report
from bench.profiling import Profiler
from bench.progress import Console
from bench.results import RunResult
from bench.scenario import BenchContext, Scenario
from bench.sizes import Sizes
from bench.stack import BenchStack


@dataclass(frozen=True)
class RunOptions:
    sizes: Sizes
    scenarios: Sequence[Scenario]
    out_dir: Path
    stamp: str
    profile: bool = False
    server_url: str | None = None  # a PostgreSQL server to use instead of runtime.devstack's
    nats_url: str | None = None  # a NATS server to use instead of starting one
    keep_database: bool = False
    wait_quiet_seconds: float = 0.0  # wait this long at most for other work to stop


async def run_benchmarks(
    options: RunOptions, console: Console
) -> tuple[RunResult, dict[str, Path]]:
    services = list(dict.fromkeys(s for scenario in options.scenarios for s in scenario.services))
    result = RunResult(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        finished_at="",
        sizes=options.sizes.name,
        machine=machine_info(),
        stack={},
    )
    stack = BenchStack(
        server_url=options.server_url,
        nats_url=options.nats_url,
        keep_database=options.keep_database,
    )
    console.log(f"starting the stack: {', '.join(services)} (database {stack.database})")
    await stack.start(services)
    if options.wait_quiet_seconds > 0:
        console.log("waiting for the machine to be quiet (other test runs skew the figures)")
        busy = await cpu.wait_for_quiet(max_seconds=options.wait_quiet_seconds)
        result.notes.append(f"{busy:.2f} cores were busy with other work when measuring began")
    analyzer: asyncio.Task[None] | None = None
    if not await autoanalyze.autovacuum_is_on(stack.dsn):
        analyzer = asyncio.create_task(autoanalyze.analyze_while_running(stack.dsn))
        result.notes.append(
            "autovacuum is off on this server: the bench analyzes each table as autovacuum "
            "would (50 rows + 10% changed), so cached plans follow the tables' growth "
            "(bench/autoanalyze.py)"
        )
    try:
        for scenario in options.scenarios:
            if scenario.prepare is not None:
                await scenario.prepare(stack)
        result.stack = await stack_info(stack)
        console.log(result.stack["summary"])
        # Raw stacks are megabytes: kept out of the repository, summarised in the results.
        profiles = Path(".tamaru/bench/profiles") / options.stamp
        profiler = Profiler(profiles) if options.profile else None
        ctx = BenchContext(stack, options.sizes, console, profiler, result.figures)
        for scenario in options.scenarios:
            console.log(f"[bold]scenario {scenario.name}[/bold]")
            try:
                result.figures += await scenario.run(ctx)
            except Exception as exc:
                console.log(f"[red]{traceback.format_exc()}[/red]")
                logs = "".join(f"\n{s.name} log:\n{s.log_tail()}" for s in stack.services.values())
                result.failures.append(f"{scenario.name}: {type(exc).__name__}: {exc}{logs}")
            for service in stack.services.values():
                if service.process.returncode is not None:
                    result.failures.append(
                        f"the {service.name} service exited ({service.process.returncode}):"
                        f"\n{service.log_tail()}"
                    )
        _note_disturbances(result)
        if profiler is not None:
            result.profiles = profiler.summaries
            result.notes.append(
                "profiled run: py-spy sampled the service during its phases, so figures are "
                "a little lower than without it"
            )
        try:
            result.stack["footprint"] = await footprint.measure(stack)
            result.notes.append(footprint.describe(result.stack["footprint"]))
        except Exception as exc:  # a missing figure must not lose the run's results
            result.notes.append(f"footprint not measured: {exc}")
    finally:
        if analyzer is not None:
            analyzer.cancel()
            # Its failure (the database gone, say) must not hide the run's own outcome.
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
                await analyzer
        await stack.stop()
    result.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return result, report.write(result, options.out_dir, options.stamp)


DISTURBED_CORES = 0.25


def _note_disturbances(result: RunResult) -> None:
    for figure in result.figures:
        for side, stats in (("service", figure.service), ("baseline", figure.baseline)):
            if stats is not None and stats.cpu is not None and stats.cpu.other > DISTURBED_CORES:
                figure.notes.append(
                    f"other work on the machine used {stats.cpu.other:.2f} cores during the "
                    f"{side} phase: that figure is disturbed"
                )


def machine_info() -> dict[str, Any]:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    info: dict[str, Any] = {
        "cpus": cpus,
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine when the run began (other test runs skew every figure).
        "load_average_at_start": [round(v, 2) for v in load],
        "python_loop_ms": python_loop_ms(),
    }
    info["summary"] = (
        f"{cpus} cores ({model or platform.machine()}), Python {info['python']}, "
        f"load average {load[0]:.2f} at start, "
        f"1M-addition Python loop {info['python_loop_ms']:.0f} ms"
    )
    return info


def python_loop_ms(additions: int = 1_000_000) -> float:
    """How fast this host runs plain Python (best of three, ms). Machines of one kind were
    seen to differ threefold from day to day with nothing else running, so rates from runs
    on different days compare only beside this figure (and the raw baselines)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(additions):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


async def stack_info(stack: BenchStack) -> dict[str, Any]:
    settings = (
        "server_version",
        "fsync",
        "synchronous_commit",
        "shared_buffers",
        "max_connections",
    )
    async with await psycopg.AsyncConnection.connect(stack.dsn, autocommit=True) as conn:
        values = {}
        for name in settings:
            row = await (await conn.execute(f"SHOW {name}")).fetchone()
            values[name] = str(row[0]) if row else ""
    info: dict[str, Any] = {
        "database": stack.database,
        "postgres": values,
        "postgres_origin": stack.postgres_origin,
        "nats_url": stack.nats_url,
        "services": {s.name: {"pid": s.pid, "port": s.port} for s in stack.services.values()},
    }
    info["summary"] = (
        f"PostgreSQL {values['server_version']} (fsync={values['fsync']}, synchronous_commit="
        f"{values['synchronous_commit']}, shared_buffers={values['shared_buffers']}) and NATS "
        f"on this machine; services as separate processes: {', '.join(stack.services)}"
    )
    return info
