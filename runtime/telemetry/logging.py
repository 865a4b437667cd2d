"""One log format for every Tamaru process: JSON lines in production, readable text locally.

Every line names the service, the trace and span it was logged in and the program it was about,
so a trace id from an error message finds both the spans and the log lines of that request.
Fields passed with `extra=` appear as top-level JSON keys.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

from runtime.telemetry.propagation import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    current_span_id,
    current_trace_id,
)

LogFormat = Literal["json", "text"]

# Set by the gRPC auth stage (and by message consumers) for the duration of one unit of work.
_program_id: ContextVar[str | None] = ContextVar("tamaru_log_program_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTEXT_FIELDS = ("service", "trace_id", "span_id", "program_id")


@contextmanager
def bind_program_id(program_id: str | None) -> Iterator[None]:
    """Log lines written inside this block carry `program_id`."""
    token = _program_id.set(program_id)
    try:
        yield
    finally:
        _program_id.reset(token)


def current_program_id() -> str | None:
    return _program_id.get()


class ContextFilter(logging.Filter):
    """Stamps records with service, trace, span and program, unless `extra=` already did.

    A handler filter runs synchronously in the task that logged, so it sees that task's span and
    program even if a formatter later runs elsewhere.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "service", None) is None:
            record.service = self.service
        if getattr(record, "trace_id", None) is None:
            trace_id = current_trace_id()
            record.trace_id = None if trace_id == INVALID_TRACE_ID else trace_id
        if getattr(record, "span_id", None) is None:
            span_id = current_span_id()
            record.span_id = None if span_id == INVALID_SPAN_ID else span_id
        if getattr(record, "program_id", None) is None:
            record.program_id = _program_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, service, trace_id, span_id, program_id,
    exc_info (when there is an exception), then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            entry[name] = getattr(record, name, None)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in entry and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`12:00:01.123 INFO  tamaru.grpc: message [program=p1 trace=0af7651916cd43dd]`."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"
        )

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = []
        program_id = getattr(record, "program_id", None)
        if program_id:
            tags.append(f"program={program_id}")
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            # The first 16 hex digits are enough to tell traces apart when reading a terminal.
            tags.append(f"trace={trace_id[:16]}")
        if not tags:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(tags)}]{newline}{rest}"


def configure_logging(
    service_name: str,
    level: str = "INFO",
    fmt: LogFormat = "json",
    *,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) in `fmt`, at `level` and above.

    Calling it again replaces the handler it installed before and leaves other handlers alone
    (pytest's log capture, for one).
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter(service_name))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name(_HANDLER_NAME)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


_HANDLER_NAME = "tamaru"
