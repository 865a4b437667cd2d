"""The interceptor every Tamaru gRPC server runs inside OpenTelemetry's server interceptor.

For each RPC, outermost first:
  1. log one line when it ends (method, code, duration, program; never the key or payloads),
  2. map exceptions to a status (runtime.grpcserver.error_mapping),
  3. authenticate and authorize the caller (runtime.grpcserver.authorization), tag the server
     span with the program, and bind the caller for `current_principal()`,
  4. run the servicer method.
Servicer methods must be `async def` (generators for streamed replies): the wrapper runs them
on the event loop, so gRPC's thread pool for plain functions is never used.

The stages live in one wrapper because they share per-call state (the log line needs the
program auth found and the code the error mapping chose) and because each of the four handler
shapes (unary/stream in and out) must be re-wrapped once, not once per stage.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import Message
from opentelemetry import trace

from runtime.auth import KeyRing, Principal
from runtime.grpcserver.authorization import authorize
from runtime.grpcserver.context import bind_principal
from runtime.grpcserver.error_mapping import map_exception, record_unexpected, request_trace_id
from runtime.grpcserver.policy import MethodPolicy
from runtime.request_checks import check_message
from runtime.telemetry.metrics import record_rpc

logger = logging.getLogger("tamaru.grpc")

SPAN_ATTR_PROGRAM_ID = "tamaru.program_id"
SPAN_ATTR_ROLE = "tamaru.role"
SPAN_ATTR_IDEMPOTENCY_KEY = "tamaru.idempotency_key"

Behavior = Callable[[Any, Any], Any]


@dataclass
class _Call:
    method: str
    public: bool
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    error: BaseException | None = None
    reason: str | None = None
    # The trace id the client was told; set only when the call failed.
    trace_id: str | None = None


class TamaruServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, policy: MethodPolicy, keyring: KeyRing) -> None:
        self._policy = policy
        self._keyring = keyring

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            # No such method: gRPC itself answers UNIMPLEMENTED.
            return None
        method: str = handler_call_details.method
        if handler.response_streaming:
            return _rewrap(handler, self._wrap_streaming_response(method, _behavior_of(handler)))
        return _rewrap(handler, self._wrap_unary_response(method, _behavior_of(handler)))

    def _wrap_unary_response(self, method: str, behavior: Behavior) -> Behavior:
        async def unary_response(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = _Call(method=method, public=self._policy.is_public(method))
            try:
                with self._as_caller(call, request, context):
                    result = behavior(_checked(request), context)
                    return (await result) if inspect.isawaitable(result) else result
            except Exception as exc:
                call.error = exc
                await self._abort(call, context, exc)
                raise
            except BaseException as exc:  # cancelled by the client or by server shutdown
                call.error = exc
                raise
            finally:
                self._log(call, context)

        return unary_response

    def _wrap_streaming_response(self, method: str, behavior: Behavior) -> Behavior:
        async def streaming_response(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            call = _Call(method=method, public=self._policy.is_public(method))
            try:
                with self._as_caller(call, request, context):
                    result = behavior(_checked(request), context)
                    if hasattr(result, "__aiter__"):
                        async for response in result:
                            yield response
                    elif inspect.isawaitable(result):
                        # A servicer may write replies with `await context.write()` instead.
                        await result
                    else:
                        raise TypeError(
                            f"{method}: a streaming servicer method must be an async generator "
                            "or a coroutine writing with context.write()"
                        )
            except Exception as exc:
                call.error = exc
                await self._abort(call, context, exc)
                raise
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                self._log(call, context)

        return streaming_response

    @contextmanager
    def _as_caller(self, call: _Call, request: Any, context: Any) -> Iterator[None]:
        if call.public:
            yield
            return
        principal = authorize(
            call.method, context.invocation_metadata(), self._policy, self._keyring
        )
        call.principal = principal
        span = trace.get_current_span()
        span.set_attribute(SPAN_ATTR_PROGRAM_ID, principal.program_id)
        span.set_attribute(SPAN_ATTR_ROLE, principal.role.value)
        idempotency_key = _idempotency_key(request)
        if idempotency_key:
            span.set_attribute(SPAN_ATTR_IDEMPOTENCY_KEY, idempotency_key)
        with bind_principal(principal):
            yield

    async def _abort(self, call: _Call, context: Any, exc: Exception) -> None:
        """Turn `exc` into the RPC's status; returns only for an abort the servicer made itself."""
        if isinstance(exc, grpc.aio.AbortError):
            return
        call.trace_id = request_trace_id()
        mapped = map_exception(exc, call.trace_id)
        call.reason = mapped.detail.reason
        if mapped.unexpected:
            program_id = call.principal.program_id if call.principal else None
            record_unexpected(exc, mapped, call.method, program_id)
        await context.abort(mapped.code, mapped.message, mapped.trailing_metadata())

    def _log(self, call: _Call, context: Any) -> None:
        duration_ms = round((time.perf_counter() - call.started) * 1000, 3)
        code = _final_code(context, call.error)
        principal = call.principal
        fields: dict[str, Any] = {
            "method": call.method,
            "code": code,
            "duration_ms": duration_ms,
            "program_id": principal.program_id if principal else None,
            "role": principal.role.value if principal else None,
            "key_id": principal.key_id if principal else None,
            "peer": context.peer(),
        }
        if call.reason:
            fields["reason"] = call.reason
        if call.trace_id:
            # Same as the span's, unless tracing is off and the error made up its own id.
            fields["trace_id"] = call.trace_id
        # Health probes arrive every few seconds; they would bury the calls that matter.
        level = logging.DEBUG if call.public else logging.INFO
        logger.log(level, "%s %s %.1fms", call.method, code, duration_ms, extra=fields)
        if not call.public:
            record_rpc(call.method, code, duration_ms, fields["program_id"])


def _behavior_of(handler: grpc.RpcMethodHandler) -> Behavior:
    if handler.request_streaming and handler.response_streaming:
        behavior: Behavior = handler.stream_stream
    elif handler.request_streaming:
        behavior = handler.stream_unary
    elif handler.response_streaming:
        behavior = handler.unary_stream
    else:
        behavior = handler.unary_unary
    return behavior


def _rewrap(handler: grpc.RpcMethodHandler, behavior: Behavior) -> grpc.RpcMethodHandler:
    """A handler of the same shape and serializers as `handler`, running `behavior`."""
    if handler.request_streaming and handler.response_streaming:
        factory = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        factory = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        factory = grpc.unary_stream_rpc_method_handler
    else:
        factory = grpc.unary_unary_rpc_method_handler
    return factory(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _checked(request: Any) -> Any:
    """The request after `check_message`; a request stream is checked message by message as
    the servicer reads it."""
    if isinstance(request, Message):
        check_message(request)
        return request
    if hasattr(request, "__aiter__"):

        async def checked_stream() -> AsyncIterator[Any]:
            async for message in request:
                if isinstance(message, Message):
                    check_message(message)
                yield message

        return checked_stream()
    return request


def _idempotency_key(request: Any) -> str | None:
    # Only unary requests: a request stream is the servicer's to read, not ours to consume.
    if isinstance(request, Message) and "idempotency_key" in request.DESCRIPTOR.fields_by_name:
        value = getattr(request, "idempotency_key", None)
        return value if isinstance(value, str) and value else None
    return None


def _final_code(context: Any, error: BaseException | None) -> str:
    code = context.code()
    if code is not None:
        return str(getattr(code, "name", code))
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        # The client went away (or the server stopped) before the method finished.
        return "CANCELLED"
    return "OK" if error is None else "UNKNOWN"
