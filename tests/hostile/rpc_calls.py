"""Call any discovered RPC generically (no generated stubs) and describe what came back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from google.protobuf import message_factory, text_format
from google.protobuf.message import Message

from runtime.grpcserver import error_detail_from_metadata
from tamaru.common.v1.common_pb2 import ErrorDetail
from tests.hostile.discovery import Rpc

# A call that takes longer than this hangs as far as a client is concerned.
CALL_TIMEOUT_SECONDS = 15.0
# Codes that mean the service failed, not the caller: a bug, a crash or a hang.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNAVAILABLE,
    }
)
POLICY_REASONS = frozenset({"ROLE_NOT_ALLOWED", "METHOD_NOT_ALLOWED"})


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str = ""
    detail: ErrorDetail | None = None
    responses: list[Message] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code is grpc.StatusCode.OK

    @property
    def denied_by_policy(self) -> bool:
        return (
            self.code is grpc.StatusCode.PERMISSION_DENIED
            and self.detail is not None
            and self.detail.reason in POLICY_REASONS
        )

    def describe(self) -> str:
        reason = f" reason={self.detail.reason} field={self.detail.field}" if self.detail else ""
        return f"{self.code.name}{reason}: {self.details[:300]}"


def request_class(rpc: Rpc) -> type[Message]:
    return message_factory.GetMessageClass(rpc.request)


def response_class(rpc: Rpc) -> type[Message]:
    return message_factory.GetMessageClass(rpc.response)


async def _stream(requests: Sequence[Message]) -> AsyncIterator[Message]:
    for request in requests:
        yield request


async def call(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    requests: Sequence[Message],
    metadata: Sequence[tuple[str, str]],
    *,
    timeout: float = CALL_TIMEOUT_SECONDS,
) -> Outcome:
    """Send `requests` (exactly one for a unary request), read every response, never raise for
    a status: the status is the outcome."""
    serialize = _serializer()
    deserialize = response_class(rpc).FromString
    kwargs: dict[str, Any] = {"metadata": tuple(metadata), "timeout": timeout}
    responses: list[Message] = []
    try:
        if rpc.client_streaming and rpc.server_streaming:
            bidi = channel.stream_stream(rpc.path, serialize, deserialize)
            async for response in bidi(_stream(requests), **kwargs):
                responses.append(response)
        elif rpc.client_streaming:
            upload = channel.stream_unary(rpc.path, serialize, deserialize)
            responses.append(await upload(_stream(requests), **kwargs))
        elif rpc.server_streaming:
            (request,) = requests
            download = channel.unary_stream(rpc.path, serialize, deserialize)
            async for response in download(request, **kwargs):
                responses.append(response)
        else:
            (request,) = requests
            unary = channel.unary_unary(rpc.path, serialize, deserialize)
            responses.append(await unary(request, **kwargs))
    except grpc.aio.AioRpcError as error:
        return Outcome(
            code=error.code(),
            details=error.details() or "",
            detail=error_detail_from_metadata(error.trailing_metadata()),
            responses=responses,
        )
    return Outcome(code=grpc.StatusCode.OK, responses=responses)


def _serializer() -> Any:
    def serialize(message: Message) -> bytes:
        return message.SerializeToString()

    return serialize


def show(requests: Sequence[Message], limit: int = 1500) -> str:
    """Requests as one line of text for a failure message, cut short when huge."""
    text = " | ".join(text_format.MessageToString(r, as_one_line=True) for r in requests)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
