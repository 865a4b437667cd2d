"""Exceptions from servicers -> gRPC status, message and an ErrorDetail the client can parse.

A TamaruError keeps its code and message (plus ` [trace_id=...]`); its ErrorDetail travels in
the trailing metadata key `tamaru-error-bin`. Anything else is a bug on our side: the client
gets INTERNAL with only a trace id to hand support, never the exception text (it may hold SQL,
other programs' data or internals); the stack trace goes to the log under that same trace id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from nats.errors import ConnectionClosedError as NatsConnectionClosed
from nats.errors import NoServersError as NatsNoServers
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import trace
from sqlalchemy.exc import DBAPIError

from runtime.errors import TamaruError
from runtime.telemetry.propagation import INVALID_TRACE_ID, current_trace_id
from tamaru.common.v1.common_pb2 import ErrorDetail

ERROR_DETAIL_METADATA_KEY = "tamaru-error-bin"

logger = logging.getLogger("tamaru.grpc.errors")

_STATUS_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


@dataclass(frozen=True)
class MappedError:
    code: grpc.StatusCode
    message: str
    detail: ErrorDetail
    # True for bugs (the client sees INTERNAL); False for errors the caller can act on.
    unexpected: bool

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ((ERROR_DETAIL_METADATA_KEY, self.detail.SerializeToString()),)


def status_code(number: int) -> grpc.StatusCode:
    """grpc.StatusCode for a numeric code (runtime.errors.Code values are the same numbers)."""
    return _STATUS_BY_NUMBER.get(int(number), grpc.StatusCode.UNKNOWN)


def request_trace_id() -> str:
    """The current trace id, or a fresh random one when there is no trace (tracing not set up),
    so an error message always names an id that also appears in the log."""
    trace_id = current_trace_id()
    return secrets.token_hex(16) if trace_id == INVALID_TRACE_ID else trace_id


def map_exception(exc: BaseException, trace_id: str) -> MappedError:
    if isinstance(exc, TamaruError):
        code = status_code(exc.code)
        return MappedError(
            code=code,
            message=f"{exc.message} [trace_id={trace_id}]",
            detail=ErrorDetail(
                reason=exc.reason,
                field=exc.field,
                message=exc.message,
                trace_id=trace_id,
                code=code.value[0],
            ),
            unexpected=False,
        )
    if is_infrastructure_outage(exc):
        # The database or the broker went away mid-request (a restart, a failover): nothing
        # the caller did wrong, and retrying with the same idempotency key is safe.
        return _plain(
            grpc.StatusCode.UNAVAILABLE,
            "DEPENDENCY_UNAVAILABLE",
            f"a dependency is unavailable; retry with the same idempotency key "
            f"[trace_id={trace_id}]",
            trace_id,
        )
    if isinstance(exc, NotImplementedError):
        # What generated servicer base classes raise for a method the service does not implement.
        return _plain(
            grpc.StatusCode.UNIMPLEMENTED, "UNIMPLEMENTED", "method not implemented", trace_id
        )
    return _plain(
        grpc.StatusCode.INTERNAL,
        "INTERNAL",
        f"internal error; give support trace_id={trace_id}",
        trace_id,
        unexpected=True,
    )


def is_infrastructure_outage(exc: BaseException) -> bool:
    """A lost or refused connection to PostgreSQL or NATS (not a bug, not bad input)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc.orig, psycopg.OperationalError)
    return isinstance(exc, (ConnectionError, NatsConnectionClosed, NatsNoServers, NatsTimeout))


def record_unexpected(
    exc: BaseException, mapped: MappedError, method: str, program_id: str | None = None
) -> None:
    """Log the stack trace and mark the span, both under the trace id the client was given."""
    logger.error(
        "unhandled %s in %s; trace_id=%s",
        type(exc).__name__,
        method,
        mapped.detail.trace_id,
        exc_info=exc,
        extra={"method": method, "trace_id": mapped.detail.trace_id, "program_id": program_id},
    )
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))


def error_detail_from_metadata(metadata: Iterable[tuple[str, Any]] | None) -> ErrorDetail | None:
    """The ErrorDetail in a failed call's trailing metadata (for clients and tests)."""
    for key, value in metadata or ():
        if key == ERROR_DETAIL_METADATA_KEY and isinstance(value, bytes):
            return ErrorDetail.FromString(value)
    return None


def _plain(
    code: grpc.StatusCode, reason: str, message: str, trace_id: str, *, unexpected: bool = False
) -> MappedError:
    return MappedError(
        code=code,
        message=message,
        detail=ErrorDetail(reason=reason, message=message, trace_id=trace_id, code=code.value[0]),
        unexpected=unexpected,
    )
