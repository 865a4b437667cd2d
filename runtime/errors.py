"""Errors a caller can act on, raised by domain code and mapped to gRPC status codes.

Pure Python: domain layers import these freely. Each error names a stable `reason` and, where
it applies, the request `field` at fault; the message says what to change.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """The gRPC status codes a domain error may carry (values match grpc.StatusCode)."""

    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


class TamaruError(Exception):
    code: Code = Code.FAILED_PRECONDITION
    default_reason: str = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, reason: str | None = None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field


class InvalidArgument(TamaruError):
    code = Code.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(TamaruError):
    code = Code.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(TamaruError):
    code = Code.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(TamaruError):
    code = Code.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class PermissionDenied(TamaruError):
    code = Code.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(TamaruError):
    code = Code.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(TamaruError):
    code = Code.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Aborted(TamaruError):
    """A conflict the caller may retry (e.g. a concurrent change won)."""

    code = Code.ABORTED
    default_reason = "ABORTED"


class Unavailable(TamaruError):
    code = Code.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(TamaruError):
    code = Code.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class IdempotencyKeyReused(TamaruError):
    """The same idempotency key came back with a different request."""

    code = Code.INVALID_ARGUMENT
    default_reason = "IDEMPOTENCY_KEY_REUSED"


class Internal(TamaruError):
    """A fault on our side (e.g. reported by another service), never a caller's mistake."""

    code = Code.INTERNAL
    default_reason = "INTERNAL"


ERRORS_BY_CODE: dict[int, type[TamaruError]] = {
    cls.code.value: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Aborted,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
}


def error_for_code(code: int, message: str, *, reason: str = "", field: str = "") -> TamaruError:
    """Rebuild a domain error from a remote reply (a NATS command error)."""
    cls = ERRORS_BY_CODE.get(code, FailedPrecondition)
    return cls(message, reason=reason or None, field=field)
