"""Spans as JSON lines in a local file, for running without a tracing backend.

`make run` points every service at one file; `tamaructl trace TRACE_ID` reads it back with
`read_spans` and prints the tree. One line per span:

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex>" | null,
     "name": "...", "kind": "SERVER", "start_ns": 1, "end_ns": 2, "attributes": {...},
     "status": {"code": "OK|ERROR|UNSET", "description": "..."}, "events": [...],
     "service": "tamaru-accounts", "scope": "opentelemetry.instrumentation.grpc"}
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to `path` as one JSON line.

    Several processes may share the file: each line goes out in a single `write` on a file
    opened with O_APPEND, which the kernel appends whole, so lines from different services do
    not interleave.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._fd is None:
                return SpanExportResult.FAILURE
            try:
                for span in spans:
                    line = json.dumps(span_to_dict(span), default=str, ensure_ascii=False)
                    _write_all(self._fd, (line + "\n").encode("utf-8"))
            except OSError:
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # Every export is written straight to the file; there is no buffer to flush.
        return True


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    scope = span.instrumentation_scope
    return {
        "trace_id": format(context.trace_id, "032x") if context else None,
        "span_id": format(context.span_id, "016x") if context else None,
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "attributes": dict(span.attributes or {}),
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "events": [
            {"name": e.name, "ts_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
        "service": span.resource.attributes.get(SERVICE_NAME),
        "scope": scope.name if scope is not None else None,
    }


def read_spans(
    path: str | os.PathLike[str], trace_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """The spans in `path`, oldest first; only those of `trace_id` when given.

    A line cut short (a process killed mid-write) is skipped rather than failing the read.
    """
    wanted = trace_id.lower() if trace_id else None
    file = Path(path)
    if not file.exists():
        return
    with file.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                span = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(span, dict) and (wanted is None or span.get("trace_id") == wanted):
                yield span


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
