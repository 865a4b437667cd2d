"""Stamps `tamaru.program_id` on every span started while a program is bound (by auth for a
gRPC call, by the command server and event consumers for NATS work), database spans included,
so on-call can filter any span of a trace by program."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from runtime.telemetry.logging import current_program_id

PROGRAM_ID = "tamaru.program_id"


class ProgramIdSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        program_id = current_program_id()
        if program_id and not (span.attributes or {}).get(PROGRAM_ID):
            span.set_attribute(PROGRAM_ID, program_id)

    def on_end(self, span: ReadableSpan) -> None:
        return None
