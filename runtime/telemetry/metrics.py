"""The metrics on-call staff watch (docs/operations.md says what each means and what to do).

Instruments come from the global meter provider that `setup_telemetry` installs (a no-op
provider when telemetry is off), so recording is always safe and cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("tamaru")

rpc_duration = _meter.create_histogram(
    "tamaru.rpc.server.duration",
    unit="ms",
    description="gRPC server call latency, by method and status code",
)
ledger_operations = _meter.create_counter(
    "tamaru.ledger.operations",
    description="Ledger transactions written, by type (credit, debit, capture, expiry, ...)",
)


def record_rpc(method: str, code: str, duration_ms: float, program_id: str | None) -> None:
    rpc_duration.record(
        duration_ms,
        {"rpc.method": method, "rpc.grpc.status_code": code, "tamaru.program_id": program_id or ""},
    )


def count_ledger_operations(program_id: str, types: Iterable[str]) -> None:
    for tx_type in types:
        ledger_operations.add(1, {"tamaru.program_id": program_id, "tamaru.tx_type": tx_type})


class GaugeSource:
    """A value sampled in the background (outbox backlog, consumer lag, expiry backlog) and
    reported by an observable gauge; sampling is async (a query), observation is sync."""

    def __init__(self, name: str, unit: str, description: str) -> None:
        self.values: dict[tuple[tuple[str, str], ...], float] = {}
        _meter.create_observable_gauge(name, [self._observe], unit=unit, description=description)

    def set(self, value: float, **attributes: str) -> None:
        self.values[tuple(sorted(attributes.items()))] = value

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, dict(k)) for k, v in self.values.items()]


outbox_backlog = GaugeSource(
    "tamaru.outbox.backlog", "{event}", "Events committed but not yet published, per service"
)
outbox_oldest_age = GaugeSource(
    "tamaru.outbox.oldest_unsent_age", "s", "Age of the oldest unpublished event, per service"
)
consumer_lag = GaugeSource(
    "tamaru.consumer.lag", "{message}", "Messages a durable consumer has not yet processed"
)
expiry_backlog = GaugeSource(
    "tamaru.ledger.expiry_backlog", "{lot}", "Lots past their expiry that still hold points"
)

saga_orders = GaugeSource(
    "tamaru.redeem.sagas", "{order}", "Orders whose saga is not done, by status and phase"
)
saga_oldest_age = GaugeSource(
    "tamaru.redeem.saga_oldest_age", "s", "Age of the oldest order whose saga is not done"
)
import_rows = GaugeSource(
    "tamaru.import.rows", "{row}", "Rows an import job has read, landed and rejected so far"
)
billing_parked_events = GaugeSource(
    "tamaru.billing.parked_events",
    "{event}",
    "Events billing parked: waiting for their program's config (unconfigured) or failing (poison)",
)

Sampler = Callable[[], Awaitable[None]]
