"""Trace context across process boundaries that are not gRPC (NATS message headers).

W3C Trace Context (`traceparent`, `tracestate`), as OpenTelemetry's messaging conventions use,
so a consumer's span becomes a child of the producer's. gRPC calls need none of this: the gRPC
instrumentation carries the context in call metadata itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

INVALID_TRACE_ID = "0" * 32
INVALID_SPAN_ID = "0" * 16

# A fixed propagator rather than the global one: every Tamaru process must speak the same header
# format whatever OTEL_PROPAGATORS says, or traces would silently break at NATS hops.
_PROPAGATOR = TraceContextTextMapPropagator()


def inject_headers(
    headers: dict[str, str] | None = None, context: Context | None = None
) -> dict[str, str]:
    """Add `traceparent` (and `tracestate`) for the current span to `headers`, in place.

    Returns the same dict (a new one when `headers` is None), so both
    `inject_headers(h)` and `h = inject_headers()` work. Without a current span nothing is added.
    """
    carrier: dict[str, str] = {} if headers is None else headers
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The remote parent context carried in `headers` (an empty context when there is none).

    Header names are matched case-insensitively: NATS keeps header case as sent, and another
    client may have written `Traceparent`.
    """
    carrier = {key.lower(): value for key, value in (headers or {}).items()}
    return _PROPAGATOR.extract(carrier)


def current_trace_id() -> str:
    """The current trace id as 32 hex characters, or all zeros outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return INVALID_TRACE_ID
    return format(span_context.trace_id, "032x")


def current_span_id() -> str:
    """The current span id as 16 hex characters, or all zeros outside any span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return INVALID_SPAN_ID
    return format(span_context.span_id, "016x")
