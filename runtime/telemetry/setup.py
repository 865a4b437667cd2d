"""Tracer and meter providers for one Tamaru process, exporting where the settings say.

Modes (`TAMARU_TELEMETRY`, see runtime.config): `off` exports nothing, `console` prints spans,
`file` appends JSON lines to `TAMARU_TELEMETRY_FILE` (what `tamaructl trace` reads), `otlp`
sends spans and metrics to the collector at `OTEL_EXPORTER_OTLP_ENDPOINT`.

Even with `off`, spans are still created (just not exported): their trace ids are what error
messages and log lines carry, so support can match a client's error to the server's logs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from runtime.config import Settings, TelemetryMode
from runtime.telemetry.file_exporter import JsonLinesSpanExporter
from runtime.telemetry.program_spans import ProgramIdSpanProcessor


@dataclass
class Telemetry:
    """The providers of one process; pass `tracer_provider` to start_server and call
    `shutdown()` last on the way out so buffered spans are not lost."""

    service_name: str
    mode: TelemetryMode
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def tracer(self, name: str) -> trace.Tracer:
        return self.tracer_provider.get_tracer(name)

    def meter(self, name: str) -> metrics.Meter:
        return self.meter_provider.get_meter(name)

    def force_flush(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporters."""
        self.tracer_provider.force_flush()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def resource_for(service_name: str) -> Resource:
    name = service_name if service_name.startswith("tamaru-") else f"tamaru-{service_name}"
    return Resource.create({SERVICE_NAME: name, SERVICE_NAMESPACE: "tamaru"})


def setup_telemetry(
    service_name: str,
    settings: Settings,
    *,
    span_exporter: SpanExporter | None = None,
    set_global: bool = True,
) -> Telemetry:
    """Build the providers for `service_name` (e.g. "accounts" -> `service.name=tamaru-accounts`).

    `span_exporter` replaces the configured exporter and exports each span as it ends (tests
    pass an InMemorySpanExporter). `set_global=False` leaves OpenTelemetry's global providers
    alone, which tests need because the globals can be set only once per process; pass the
    returned `tracer_provider` explicitly instead.
    """
    mode = settings.telemetry_mode
    resource = resource_for(service_name)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(ProgramIdSpanProcessor())  # first: before any export
    for processor in _span_processors(mode, settings, span_exporter):
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(
        resource=resource, metric_readers=_metric_readers(mode, settings, span_exporter)
    )
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return Telemetry(
        service_name=service_name,
        mode=mode,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def _span_processors(
    mode: TelemetryMode, settings: Settings, override: SpanExporter | None
) -> list[SpanProcessor]:
    if override is not None:
        return [SimpleSpanProcessor(override)]
    if mode is TelemetryMode.OFF:
        return []
    if mode is TelemetryMode.CONSOLE:
        # sys.stdout as it is now: the exporter's default is whatever it was at import time.
        return [BatchSpanProcessor(ConsoleSpanExporter(out=sys.stdout))]
    if mode is TelemetryMode.FILE:
        return [BatchSpanProcessor(JsonLinesSpanExporter(settings.telemetry_file))]
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # Without an explicit endpoint the exporter applies the OTEL_EXPORTER_OTLP_* defaults.
    return [BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))]


def _metric_readers(
    mode: TelemetryMode, settings: Settings, override: SpanExporter | None
) -> list[MetricReader]:
    # Only a collector makes use of metrics; printing them every minute would only be noise.
    if override is not None or mode is not TelemetryMode.OTLP:
        return []
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return [PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=settings.otlp_endpoint))]
