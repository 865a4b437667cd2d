"""The nemesis: every few seconds (seeded, bounded) one fault, then its repair.

- `kill`: SIGKILL a random service process, start it again after a moment;
- `nats`: stop the NATS server and start it again (same port, same JetStream store);
- `postgres`: fast-stop PostgreSQL and start it again (same port, same data).

One fault at a time, each logged with its time. No new fault in the run's last seconds
(`quiet_after`), so clients also meet the system recovered, as they would after an incident.
`stop()` lets the fault in progress finish its repair.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.cluster import Cluster

FAULT_WEIGHTS = {"kill": 6, "nats": 2, "postgres": 2}


@dataclass
class Fault:
    at: float  # seconds since the workload began
    kind: str
    target: str
    down_for: float
    error: str = ""

    def describe(self) -> str:
        what = {"kill": f"SIGKILL {self.target}", "nats": "restart NATS"}.get(
            self.kind, "restart PostgreSQL"
        )
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

    async def run(self) -> None:
        rng = random.Random(self.seed * 7919 + 17)
        kinds = list(FAULT_WEIGHTS)
        weights = [FAULT_WEIGHTS[k] for k in kinds]
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop.wait(), timeout=rng.uniform(0.5, 1.5) * self.interval
                )
            if self._stop.is_set():
                return
            if self.clock() >= self.quiet_after:
                continue
            kind = rng.choices(kinds, weights)[0]
            target = rng.choice(sorted(self.cluster.services)) if kind == "kill" else kind
            fault = Fault(self.clock(), kind, target, down_for=rng.uniform(0.2, 2.0))
            await self._inflict(fault)
            self.faults.append(fault)
            self.say(fault.describe())

    async def _inflict(self, fault: Fault) -> None:
        down, up = {
            "kill": (self.cluster.kill_service, self.cluster.start_service),
            "nats": (lambda _: self.cluster.stop_nats(), lambda _: self.cluster.start_nats()),
            "postgres": (
                lambda _: self.cluster.stop_postgres(),
                lambda _: self.cluster.start_postgres(),
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

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._stop.set()
        await task
