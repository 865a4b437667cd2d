"""A closed-loop load generator: N concurrent callers, each calling again as soon as its last
call returned, bounded by time and by count.

An operation is `async def op(client: int) -> int`, returning how many entries the call did
(1 for a credit, the batch size for a batch). Calls that start during the warm-up are not
measured; latencies are per call, throughput is entries per second of the measured window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.progress import Bar

Operation = Callable[[int], Awaitable[int]]

MAX_ERROR_SAMPLES = 5


@dataclass
class LoadResult:
    clients: int
    seconds: float = 0.0  # the measured window
    calls: int = 0
    entries: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, measured calls only
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float | None:
        return percentile(self.latencies, q) * 1000 if self.latencies else None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def closed_loop(
    op: Operation,
    *,
    clients: int,
    warmup: float,
    duration: float,
    max_calls: int,
    bar: Bar | None = None,
) -> LoadResult:
    """Run `op` from `clients` concurrent tasks for `warmup + duration` seconds (or until
    `max_calls` measured calls), then wait for the calls in flight.

    At least `clients` calls are measured even when calls are slower than the window (a
    loaded machine, tiny smoke-test windows), so a phase never ends with nothing measured."""
    result = LoadResult(clients=clients)
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    last_end = measure_from

    async def client(index: int) -> None:
        nonlocal last_end
        while True:
            began = time.perf_counter()
            if result.calls >= max_calls or (began >= stop_at and result.calls >= clients):
                return
            measured = began >= measure_from
            if measured:
                result.calls += 1
            try:
                entries = await op(index)
            except Exception as exc:  # counted and sampled: a benchmark reports its failures
                if measured:
                    result.errors += 1
                    if len(result.error_samples) < MAX_ERROR_SAMPLES:
                        result.error_samples.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            ended = time.perf_counter()
            if measured:
                result.entries += entries
                result.latencies.append(ended - began)
                last_end = max(last_end, ended)

    async def ticker() -> None:
        assert bar is not None
        shown = 0.0
        while True:
            await asyncio.sleep(0.25)
            now = min(time.perf_counter(), stop_at) - start
            bar.advance(now - shown)
            shown = now

    tick = asyncio.create_task(ticker()) if bar is not None else None
    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        if tick is not None:
            tick.cancel()
    result.seconds = max(last_end - measure_from, 1e-9)
    return result


async def timed(work: Callable[[], Awaitable[int]]) -> LoadResult:
    """One measured run of `work` (a sweep, a load): entries it returns per second."""
    began = time.perf_counter()
    entries = await work()
    seconds = time.perf_counter() - began
    return LoadResult(clients=1, seconds=seconds, calls=1, entries=entries, latencies=[seconds])
