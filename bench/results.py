"""What a run measured: one `Figure` per operation, the service's stats beside the raw
PostgreSQL baseline's, and the targets checked against them. Plain dataclasses, written to
JSON as they are."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.cpu import CpuShare
from bench.load import LoadResult


@dataclass
class Stats:
    throughput: float  # entries per second
    p50_ms: float | None
    p99_ms: float | None
    calls: int
    entries: int
    errors: int
    seconds: float
    clients: int
    error_samples: list[str] = field(default_factory=list)
    cpu: CpuShare | None = None  # cores used on average by each part
    cpu_ms_per_entry: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: LoadResult, cpu: CpuShare | None = None) -> Stats:
        p50, p99 = result.percentile_ms(50), result.percentile_ms(99)
        return cls(
            throughput=round(result.throughput, 1),
            p50_ms=None if p50 is None else round(p50, 3),
            p99_ms=None if p99 is None else round(p99, 3),
            calls=result.calls,
            entries=result.entries,
            errors=result.errors,
            seconds=round(result.seconds, 3),
            clients=result.clients,
            error_samples=result.error_samples,
            cpu=cpu,
            cpu_ms_per_entry=cpu.per_entry_ms(result.throughput) if cpu else {},
        )


@dataclass
class Check:
    """A target from the issue: what it asks, what was measured, whether it was met."""

    target: str
    measured: str
    met: bool


def p99_at_most(ceiling_ms: float, p99_ms: float | None) -> Check:
    """A latency target: the p99 at most `ceiling_ms` (unmet when nothing was measured)."""
    shown = "n/a" if p99_ms is None else f"p99 {p99_ms:.1f} ms"
    return Check(
        target=f"p99 <= {ceiling_ms:.0f} ms",
        measured=shown,
        met=p99_ms is not None and p99_ms <= ceiling_ms,
    )


@dataclass
class Figure:
    scenario: str
    operation: str  # short key: credit, debit, batch_credit, balance_10k, ...
    title: str  # what a reader sees in the table
    unit: str  # of the throughput: credits/s, entries/s, reads/s, lots/s
    service: Stats
    baseline: Stats | None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """Service throughput as a fraction of the baseline's."""
        if self.baseline is None or self.baseline.throughput <= 0:
            return None
        return round(self.service.throughput / self.baseline.throughput, 3)

    @property
    def has_latency(self) -> bool:
        return self.service.calls > 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


@dataclass
class ProfileSummary:
    """Where the service's CPU went during one phase (py-spy samples)."""

    operation: str
    samples: int
    by_layer: dict[str, float]  # self time, % of samples
    top_inclusive: list[tuple[str, float]]  # our functions, % of samples including callees
    raw_file: str


@dataclass
class RunResult:
    started_at: str
    finished_at: str
    sizes: str
    machine: dict[str, Any]
    stack: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    profiles: list[ProfileSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # scenarios that raised

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["figures"] = [f.to_json() for f in self.figures]
        return data
