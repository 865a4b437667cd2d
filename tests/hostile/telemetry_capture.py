"""Everything the services log and trace while the hostile tests run, to search for secrets.

Logs: a handler on the root logger with the root at DEBUG, as `TAMARU_LOG_LEVEL=DEBUG` would
set it (runtime.telemetry.logging.configure_logging). Spans: one in-memory exporter shared by
every service's tracer provider.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Attributes every LogRecord has; the rest came from `extra=` and are logged too (JSON format).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RecordingHandler(logging.Handler):
    """Keeps every record; they are rendered only when searched."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def render_record(record: logging.LogRecord) -> str:
    """The record as a log line would carry it: message, extra fields and stack trace."""
    try:
        parts = [record.name, record.getMessage()]
    except Exception as exc:  # a bad format string is a logging bug, but not ours to find here
        parts = [record.name, str(record.msg), repr(record.args), f"<unformattable: {exc}>"]
    for name, value in vars(record).items():
        if name not in _STANDARD_ATTRIBUTES:
            parts.append(f"{name}={value}")
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return " ".join(parts)


def render_span(span: ReadableSpan) -> str:
    parts = [span.name, str(dict(span.attributes or {}))]
    for event in span.events:
        parts += [event.name, str(dict(event.attributes or {}))]
    if span.status.description:
        parts.append(span.status.description)
    return " ".join(parts)


@dataclass
class Capture:
    handler: RecordingHandler = field(default_factory=RecordingHandler)
    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    _previous_level: int = logging.WARNING

    def start(self) -> None:
        root = logging.getLogger()
        self._previous_level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)

    def stop(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._previous_level)

    def log_lines(self) -> Iterator[tuple[logging.LogRecord, str]]:
        for record in list(self.handler.records):
            yield record, render_record(record)

    def span_texts(self) -> Iterator[tuple[ReadableSpan, str]]:
        for span in self.spans.get_finished_spans():
            yield span, render_span(span)
