"""How big and how long each run is: `full` (`make bench`), `quick` (`--quick`) and `tiny` (the
smoke test, which only proves the harness still works end to end)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    name: str
    warmup_seconds: float  # load before measuring starts (connections, caches, JIT-free warm-up)
    measure_seconds: float  # each load phase, service and baseline alike
    max_calls: int  # each phase also stops after this many calls
    clients: int  # concurrent callers for single credits and debits
    batch_clients: int  # concurrent BatchCredit callers
    batch_size: int  # entries per BatchCredit call and per baseline multi-row insert
    # Concurrent balance readers, one phase each: 1 measures a read's own cost (the latency
    # target), more show throughput once the service's one core is busy.
    read_clients: tuple[int, ...]
    pool_accounts: int  # accounts the credits, debits and batches spread over
    small_population: int  # balance reads "at 10k accounts"
    large_population: int  # balance reads "at 1M accounts"
    expiry_lots: int  # due lots swept (by the service's sweeper, and again by the baseline)
    expiry_lots_per_account: int
    sweep_batch: int  # LedgerSweeper batch size (the service's default)
    order_clients: int = 16  # members placing orders at once (issue 5)
    catalog_items: int = 100_000  # items searched over (issue 5)
    search_clients: int = 1  # one caller: the p99 is a search's own cost
    # Purchases per BatchRecordPurchases stream (issue 4); `clients` and `batch_clients`
    # callers send single and streamed purchases.
    purchase_batch: int = 100
    # points_credited events in billing's backlog (issue 9): its consumer applies some tens a
    # second on this machine, so a larger backlog only makes the run longer.
    billing_events: int = 3_000
    report_clients: int = 1  # one caller: the p99 is a report's own cost

    @property
    def small_label(self) -> str:
        return count_label(self.small_population)

    @property
    def large_label(self) -> str:
        return count_label(self.large_population)


def count_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


FULL = Sizes(
    name="full",
    warmup_seconds=2.0,
    measure_seconds=15.0,
    max_calls=1_000_000,
    clients=32,
    batch_clients=4,
    batch_size=100,
    read_clients=(1, 4),
    pool_accounts=10_000,
    small_population=10_000,
    large_population=1_000_000,
    expiry_lots=200_000,
    expiry_lots_per_account=4,
    sweep_batch=5_000,
)

QUICK = Sizes(
    name="quick",
    warmup_seconds=1.0,
    measure_seconds=4.0,
    max_calls=200_000,
    clients=32,
    batch_clients=4,
    batch_size=100,
    read_clients=(1, 4),
    pool_accounts=10_000,
    small_population=10_000,
    large_population=100_000,
    expiry_lots=40_000,
    expiry_lots_per_account=4,
    sweep_batch=5_000,
    billing_events=1_000,
)

TINY = Sizes(
    name="tiny",
    warmup_seconds=0.1,
    measure_seconds=0.3,
    max_calls=400,
    clients=4,
    batch_clients=2,
    batch_size=10,
    read_clients=(1, 2),
    pool_accounts=200,
    small_population=100,
    large_population=1_000,
    expiry_lots=400,
    expiry_lots_per_account=4,
    sweep_batch=100,
    order_clients=2,
    catalog_items=500,
    purchase_batch=10,
    billing_events=40,
)

# `make bench-scale` (issue 9): the ledger at 10,000,000 accounts against 10,000, to show that a
# balance read, a credit and a sweep cost the same; the accounts scenario only.
SCALE = replace(FULL, name="scale", large_population=10_000_000, read_clients=(1,))

PROFILES = {s.name: s for s in (FULL, QUICK, TINY, SCALE)}
