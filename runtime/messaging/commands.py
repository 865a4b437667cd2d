"""Commands between services: protobuf request/reply on core NATS.

Subject `tamaru.cmd.<service>.<Method>`, queue group `<service>` so replicas share the load.
Every command carries the program id and the caller's idempotency key in headers, so a retry
after a timeout is safe end to end. Errors travel as `CommandReply.error` (an ErrorDetail) and
are raised on the caller's side as the same `TamaruError` subclass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from runtime.errors import (
    DeadlineExceeded,
    InvalidArgument,
    TamaruError,
    Unavailable,
    error_for_code,
)
from runtime.request_checks import check_message
from runtime.telemetry.logging import bind_program_id
from tamaru.common.v1 import common_pb2

log = logging.getLogger(__name__)

PROGRAM_HEADER = "Tamaru-Program"
IDEMPOTENCY_HEADER = "Tamaru-Idempotency-Key"
DEADLINE_HEADER = "Tamaru-Deadline"  # unix epoch milliseconds

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


def command_subject(service: str, method: str) -> str:
    return f"tamaru.cmd.{service}.{method}"


@dataclass(frozen=True)
class CommandContext:
    program_id: str
    idempotency_key: str
    deadline: float  # time.time() seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.time())


class CommandClient:
    def __init__(
        self,
        nc: Client,
        *,
        default_timeout: float = 5.0,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._nc = nc
        self._default_timeout = default_timeout

    async def call(
        self,
        service: str,
        method: str,
        request: Message,
        response_type: type[Resp],
        *,
        program_id: str,
        idempotency_key: str = "",
        timeout: float | None = None,
    ) -> Resp:
        subject = command_subject(service, method)
        timeout = timeout or self._default_timeout
        headers = {
            PROGRAM_HEADER: program_id,
            IDEMPOTENCY_HEADER: idempotency_key,
            DEADLINE_HEADER: str(int((time.time() + timeout) * 1000)),
        }
        with self._tracer.start_as_current_span(
            f"{subject} request",
            kind=SpanKind.CLIENT,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "send",
                "messaging.destination.name": subject,
                "tamaru.program_id": program_id,
                "tamaru.idempotency_key": idempotency_key,
            },
        ) as span:
            propagate.inject(headers)
            try:
                msg = await self._nc.request(
                    subject, request.SerializeToString(), timeout=timeout, headers=headers
                )
            except NoRespondersError:
                span.set_status(Status(StatusCode.ERROR, "no responders"))
                raise Unavailable(
                    f"the {service} service is not running (no responder on {subject})",
                    reason="SERVICE_UNAVAILABLE",
                ) from None
            except NatsTimeout:
                span.set_status(Status(StatusCode.ERROR, "timeout"))
                raise DeadlineExceeded(
                    f"{service}.{method} did not answer within {timeout:.1f}s; retry with the "
                    "same idempotency key",
                    reason="COMMAND_TIMEOUT",
                ) from None
            reply = common_pb2.CommandReply.FromString(msg.data)
            if reply.HasField("error"):
                err = reply.error
                span.set_status(Status(StatusCode.ERROR, err.reason))
                raise error_for_code(err.code, err.message, reason=err.reason, field=err.field)
            return response_type.FromString(reply.response)


Handler = Callable[[CommandContext, Any], Awaitable[Message]]


@dataclass(frozen=True)
class _Route(Generic[Req]):
    request_type: type[Req]
    handler: Handler


class CommandServer:
    """Serves one service's commands; handlers get a CommandContext and the decoded request.

    At most `max_concurrent` handlers run at once (the service passes its database pool size);
    the rest wait their turn in arrival order. Without the bound, a burst of commands checks
    out more connections than the pool keeps, and every one above it is opened for one
    command and closed after it: a new PostgreSQL backend per command, which cost accounts
    more CPU than the commands themselves when earn sent 32 purchases at once.
    """

    def __init__(
        self,
        nc: Client,
        service: str,
        *,
        tracer_provider: TracerProvider | None = None,
        max_concurrent: int = 10,
    ) -> None:
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._nc = nc
        self._service = service
        self._routes: dict[str, _Route[Any]] = {}
        self._subs: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._turns = asyncio.Semaphore(max_concurrent)

    def register(self, method: str, request_type: type[Req], handler: Handler) -> None:
        self._routes[command_subject(self._service, method)] = _Route(request_type, handler)

    async def start(self) -> None:
        for subject in self._routes:
            sub = await self._nc.subscribe(subject, queue=self._service, cb=self._dispatch)
            self._subs.append(sub)

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _dispatch(self, msg: Msg) -> None:
        # Handle each command in its own task so one slow command never blocks the next.
        task = asyncio.create_task(self._handle(msg))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _handle(self, msg: Msg) -> None:
        route = self._routes[msg.subject]
        headers = msg.headers or {}
        parent = propagate.extract(headers)
        token = otel_context.attach(parent)
        try:
            with (
                bind_program_id(headers.get(PROGRAM_HEADER) or None),
                self._tracer.start_as_current_span(
                    f"{msg.subject} process",
                    kind=SpanKind.SERVER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.operation.type": "process",
                        "messaging.destination.name": msg.subject,
                        "tamaru.program_id": headers.get(PROGRAM_HEADER, ""),
                        "tamaru.idempotency_key": headers.get(IDEMPOTENCY_HEADER, ""),
                    },
                ) as span,
            ):
                async with self._turns:
                    reply = await self._reply_for(route, msg, headers)
                if reply.HasField("error"):
                    span.set_status(Status(StatusCode.ERROR, reply.error.reason))
                if msg.reply:
                    await msg.respond(reply.SerializeToString())
        finally:
            otel_context.detach(token)

    async def _reply_for(
        self, route: _Route[Any], msg: Msg, headers: dict[str, str]
    ) -> common_pb2.CommandReply:
        try:
            program_id = headers.get(PROGRAM_HEADER, "")
            if not program_id:
                raise InvalidArgument("command without a program id", field=PROGRAM_HEADER)
            deadline_ms = headers.get(DEADLINE_HEADER)
            deadline = int(deadline_ms) / 1000 if deadline_ms else time.time() + 30
            try:
                request = route.request_type.FromString(msg.data)
            except DecodeError:
                raise InvalidArgument(
                    f"command payload is not a {route.request_type.DESCRIPTOR.full_name}"
                ) from None
            check_message(request)
            ctx = CommandContext(program_id, headers.get(IDEMPOTENCY_HEADER, ""), deadline)
            response = await route.handler(ctx, request)
            return common_pb2.CommandReply(response=response.SerializeToString())
        except TamaruError as exc:
            return common_pb2.CommandReply(error=error_detail(exc))
        except Exception:
            trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
            log.exception("command %s failed", msg.subject, extra={"trace_id": trace_id})
            return common_pb2.CommandReply(
                error=common_pb2.ErrorDetail(
                    reason="INTERNAL",
                    message=f"internal error; give support trace_id={trace_id}",
                    trace_id=trace_id,
                    code=13,
                )
            )


def error_detail(exc: TamaruError) -> common_pb2.ErrorDetail:
    trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
    return common_pb2.ErrorDetail(
        reason=exc.reason,
        field=exc.field,
        message=exc.message,
        trace_id=trace_id,
        code=int(exc.code),
    )
