"""The nemesis: every few seconds (seeded, bounded) one fault, then its repair.

- `kill`: SIGKILL a random service process, start it again after a moment;
- `nats`: stop the NATS server and start it again (same port, same JetStream store);
- `postgres`: fast-stop PostgreSQL and start it again (same port, same data);
- `partition`: cut one service off from PostgreSQL, NATS or both for a few seconds (its links
  blackhole: bytes held, new connections hang), then heal (open connections resume);
- `slow`: add latency to one service's link(s) for a few seconds;
- `skew`: restart one service with its wall clock minutes ahead or behind (libfaketime), let it
  serve a few seconds, restart it with the true clock (two clock jumps for that service).

The first faults of a run go through every kind once, in an order the seed shuffles, so even a
short run meets each; then kinds are drawn by weight. One fault at a time, each logged with its
time. No new fault in the run's last seconds (`quiet_after`), so clients also meet the system
recovered, as they would after an incident.
`stop()` lets the fault in progress finish its repair.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.clock import faketime_library
from chaos.cluster import Cluster

FAULT_WEIGHTS = {"kill": 6, "nats": 2, "postgres": 2, "partition": 3, "slow": 1, "skew": 2}
LINK_TARGETS = (("postgres",), ("nats",), ("postgres", "nats"))
SKEW_SECONDS = (60.0, 300.0)  # how far off a skewed clock is, either way
SKEW_SERVING_WAIT = 60.0  # seconds a skewed restart may take to serve before the clock is kept


@dataclass
class Fault:
    at: float  # seconds since the workload began
    kind: str
    target: str
    down_for: float
    error: str = ""
    links: tuple[str, ...] = ()  # partition, slow: "postgres" and/or "nats"
    amount: float = 0.0  # slow: seconds of delay per chunk; skew: seconds off the true clock

    def describe(self) -> str:
        links = "+".join(self.links)
        what = {
            "kill": f"SIGKILL {self.target}",
            "nats": "restart NATS",
            "postgres": "restart PostgreSQL",
            "partition": f"partition {self.target} from {links}",
            "slow": f"slow {self.target}->{links} by {self.amount * 1000:.0f} ms",
            "skew": f"restart {self.target} with its clock {self.amount:+.0f}s off",
        }[self.kind]
        tail = f" FAILED: {self.error}" if self.error else ""
        return f"[{self.at:7.2f}s] nemesis: {what}, back after {self.down_for:.1f}s{tail}"


@dataclass
class Nemesis:
    cluster: Cluster
    seed: int
    interval: float  # mean seconds between faults
    clock: Callable[[], float]
    say: Callable[[str], None] = print
    quiet_after: float = float("inf")  # no new fault after this time (clock seconds)
    faults: list[Fault] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def counts(self) -> Counter[str]:
        return Counter(f.kind for f in self.faults)

    def kinds(self) -> list[str]:
        """The faults this machine can inject (no `skew` without libfaketime)."""
        return [k for k in FAULT_WEIGHTS if k != "skew" or faketime_library() is not None]

    async def run(self) -> None:
        rng = random.Random(self.seed * 7919 + 17)
        kinds = self.kinds()
        weights = [FAULT_WEIGHTS[k] for k in kinds]
        first_round = rng.sample(kinds, len(kinds))
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop.wait(), timeout=rng.uniform(0.5, 1.5) * self.interval
                )
            if self._stop.is_set():
                return
            if self.clock() >= self.quiet_after:
                continue
            kind = first_round.pop(0) if first_round else rng.choices(kinds, weights)[0]
            fault = self._draw(kind, rng)
            await self._inflict(fault)
            self.faults.append(fault)
            self.say(fault.describe())

    def _draw(self, kind: str, rng: random.Random) -> Fault:
        service = rng.choice(sorted(self.cluster.services))
        if kind in ("nats", "postgres"):
            return Fault(self.clock(), kind, kind, down_for=rng.uniform(0.2, 2.0))
        if kind == "kill":
            return Fault(self.clock(), kind, service, down_for=rng.uniform(0.2, 2.0))
        if kind == "partition":
            links = rng.choice(LINK_TARGETS)
            return Fault(self.clock(), kind, service, rng.uniform(1.5, 5.0), links=links)
        if kind == "slow":
            links = rng.choice(LINK_TARGETS)
            delay = rng.uniform(0.02, 0.3)
            return Fault(
                self.clock(), kind, service, rng.uniform(1.5, 4.0), links=links, amount=delay
            )
        offset = rng.uniform(*SKEW_SECONDS) * rng.choice((-1, 1))
        return Fault(self.clock(), kind, service, rng.uniform(1.5, 4.0), amount=offset)

    async def _inflict(self, fault: Fault) -> None:
        if fault.kind == "skew":
            await self._skew(fault)
            return
        cluster = self.cluster
        down, up = {
            "kill": (self.cluster.kill_service, self.cluster.start_service),
            "nats": (lambda _: self.cluster.stop_nats(), lambda _: self.cluster.start_nats()),
            "postgres": (
                lambda _: self.cluster.stop_postgres(),
                lambda _: self.cluster.start_postgres(),
            ),
            "partition": (
                lambda name: cluster.cut(name, fault.links),
                lambda name: cluster.heal_links(name),
            ),
            "slow": (
                lambda name: cluster.slow(name, fault.links, fault.amount),
                lambda name: cluster.heal_links(name),
            ),
        }[fault.kind]
        try:
            await down(fault.target)
            await asyncio.sleep(fault.down_for)
        except Exception as exc:  # report it; the repair below and heal() still run
            fault.error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                await up(fault.target)
            except Exception as exc:
                fault.error += f" (repair: {type(exc).__name__}: {exc})"

    async def _skew(self, fault: Fault) -> None:
        """Serve `down_for` seconds on the skewed clock (after the skewed process is up), then
        go back to the true clock."""
        try:
            await self.cluster.restart_service(fault.target, clock_offset=fault.amount)
            process = self.cluster.services[fault.target]
            if not await process.wait_serving(SKEW_SERVING_WAIT):
                fault.error = f"not serving with a skewed clock after {SKEW_SERVING_WAIT:g}s"
            await asyncio.sleep(fault.down_for)
        except Exception as exc:
            fault.error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                await self.cluster.restart_service(fault.target)
            except Exception as exc:
                fault.error += f" (repair: {type(exc).__name__}: {exc})"

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._stop.set()
        await task
