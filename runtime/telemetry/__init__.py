"""OpenTelemetry setup, trace propagation over NATS headers, and the shared log format."""

from runtime.telemetry.logging import bind_program_id, configure_logging, current_program_id
from runtime.telemetry.propagation import (
    current_span_id,
    current_trace_id,
    extract_context,
    inject_headers,
)
from runtime.telemetry.setup import Telemetry, setup_telemetry

__all__ = [
    "Telemetry",
    "bind_program_id",
    "configure_logging",
    "current_program_id",
    "current_span_id",
    "current_trace_id",
    "extract_context",
    "inject_headers",
    "setup_telemetry",
]
