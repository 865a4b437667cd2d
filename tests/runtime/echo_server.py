"""Test support for the gRPC server tests: the Echo service, keys for two programs, a real
server on port 0 with a real client channel, and JSON log capture."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.trace import TracerProvider

from runtime.auth import KeyRing, Role, generate_api_key, hash_api_key
from runtime.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TamaruError,
)
from runtime.grpcserver import MethodPolicy, RunningServer, current_principal, start_server
from runtime.telemetry.logging import ContextFilter, JsonFormatter
from tamaru.testing.v1 import echo_pb2, echo_pb2_grpc

SERVICE = echo_pb2.DESCRIPTOR.services_by_name["EchoService"]
ECHO = f"/{SERVICE.full_name}/Echo"

# The secret that must never reach a client, a log line or a span.
SECRET_TEXT = "db password=hunter2 at 10.0.0.7"

DOMAIN_ERRORS: dict[str, type[TamaruError]] = {
    "invalid_argument": InvalidArgument,
    "not_found": NotFound,
    "failed_precondition": FailedPrecondition,
    "permission_denied": PermissionDenied,
    "aborted": Aborted,
}


def raise_kind(kind: str, message: str = "", field_name: str = "") -> None:
    if kind in DOMAIN_ERRORS:
        raise DOMAIN_ERRORS[kind](message or f"{kind} happened", field=field_name)
    if kind == "unexpected":
        raise RuntimeError(SECRET_TEXT)
    if kind == "not_implemented":
        raise NotImplementedError("not yet")
    if kind:
        raise AssertionError(f"unknown failure kind {kind!r}")


class EchoServicer(echo_pb2_grpc.EchoServiceServicer):
    async def Echo(self, request: echo_pb2.EchoRequest, context: Any) -> echo_pb2.EchoResponse:
        if request.delay_ms:
            await asyncio.sleep(request.delay_ms / 1000)
        caller = current_principal()
        return echo_pb2.EchoResponse(
            message=request.message, program_id=caller.program_id, role=caller.role.value
        )

    async def Fail(self, request: echo_pb2.FailRequest, context: Any) -> echo_pb2.FailResponse:
        raise_kind(request.kind, request.message, request.field)
        return echo_pb2.FailResponse()

    async def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: Any
    ) -> AsyncIterator[echo_pb2.EchoStreamResponse]:
        for index in range(request.count):
            if request.fail_kind and index == request.fail_after:
                raise_kind(request.fail_kind)
            yield echo_pb2.EchoStreamResponse(message=request.message, index=index)

    async def EchoCollect(
        self, request_iterator: AsyncIterator[echo_pb2.EchoCollectRequest], context: Any
    ) -> echo_pb2.EchoCollectResponse:
        messages: list[str] = []
        fail_kind = ""
        async for request in request_iterator:
            messages.append(request.message)
            fail_kind = fail_kind or request.fail_kind
        raise_kind(fail_kind)
        return echo_pb2.EchoCollectResponse(
            messages=messages, program_id=current_principal().program_id
        )

    async def EchoChat(
        self, request_iterator: AsyncIterator[echo_pb2.EchoChatRequest], context: Any
    ) -> AsyncIterator[echo_pb2.EchoChatResponse]:
        async for request in request_iterator:
            raise_kind(request.fail_kind)
            yield echo_pb2.EchoChatResponse(
                message=f"{current_principal().program_id}:{request.message}"
            )


ALL_ROLES = frozenset(Role)

DEFAULT_POLICY = MethodPolicy.for_service(
    SERVICE,
    {
        "Echo": {Role.ADMIN, Role.BACKEND, Role.READONLY},
        "Fail": ALL_ROLES,
        "EchoStream": ALL_ROLES,
        "EchoCollect": ALL_ROLES,
        "EchoChat": ALL_ROLES,
    },
)


@dataclass
class Keys:
    """Plain keys as a client would hold them; the key ring only ever sees their hashes."""

    p1_admin: str = field(default_factory=lambda: generate_api_key("p1", Role.ADMIN))
    p1_granter: str = field(default_factory=lambda: generate_api_key("p1", Role.GRANTER))
    p2_backend: str = field(default_factory=lambda: generate_api_key("p2", Role.BACKEND))

    def all(self) -> list[str]:
        return [self.p1_admin, self.p1_granter, self.p2_backend]

    def keyring(self) -> KeyRing:
        ring = KeyRing()
        ring.replace_program(
            "p1",
            [
                (hash_api_key(self.p1_admin), Role.ADMIN, "k-p1-admin"),
                (hash_api_key(self.p1_granter), Role.GRANTER, "k-p1-granter"),
            ],
        )
        ring.replace_program("p2", [(hash_api_key(self.p2_backend), Role.BACKEND, "k-p2-backend")])
        return ring


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


@dataclass
class EchoServer:
    running: RunningServer
    channel: grpc.aio.Channel
    keys: Keys

    @property
    def stub(self) -> Any:
        return echo_pb2_grpc.EchoServiceStub(self.channel)


@asynccontextmanager
async def serve_echo(
    *,
    policy: MethodPolicy = DEFAULT_POLICY,
    tracer_provider: TracerProvider | None = None,
    keys: Keys | None = None,
) -> AsyncIterator[EchoServer]:
    """A started server on 127.0.0.1:<free port> and a channel to it (traced when a provider
    is given), both closed afterwards."""
    keys = keys or Keys()
    running = await start_server(
        service_name="echo",
        host="127.0.0.1",
        port=0,
        servicers=[(echo_pb2_grpc.add_EchoServiceServicer_to_server, EchoServicer())],
        policy=policy,
        keyring=keys.keyring(),
        service_names_for_reflection=[SERVICE.full_name],
        health_names=[SERVICE.full_name],
        tracer_provider=tracer_provider,
    )
    interceptors = (
        aio_client_interceptors(tracer_provider=tracer_provider)  # type: ignore[no-untyped-call]
        if tracer_provider is not None
        else None
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}", interceptors=interceptors)
    try:
        yield EchoServer(running=running, channel=channel, keys=keys)
    finally:
        await channel.close()
        await running.stop(0)


@dataclass
class CapturedLogs:
    stream: io.StringIO

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@contextmanager
def capture_json_logs() -> Iterator[CapturedLogs]:
    """Every record any logger emits meanwhile, as the production JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter("echo"))
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield CapturedLogs(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
