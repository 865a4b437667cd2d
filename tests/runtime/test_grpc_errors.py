"""How servicer failures reach clients: domain errors keep their code and carry an ErrorDetail
with the trace id; bugs become INTERNAL with only a trace id, logged with their stack trace."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from runtime.grpcserver import ERROR_DETAIL_METADATA_KEY, error_detail_from_metadata
from tamaru.common.v1.common_pb2 import ErrorDetail
from tamaru.testing.v1 import echo_pb2
from tests.runtime.echo_server import SECRET_TEXT, SERVICE, auth, capture_json_logs, serve_echo

TRACE_SUFFIX = re.compile(r" \[trace_id=([0-9a-f]{32})\]$")
INTERNAL_MESSAGE = re.compile(r"^internal error; give support trace_id=([0-9a-f]{32})$")


async def collect(call: Any, into: list[Any], pick: Callable[[Any], Any]) -> None:
    """Read a response stream into `into` until it ends or fails."""
    async for reply in call:
        into.append(pick(reply))


def detail_of(error: grpc.aio.AioRpcError) -> ErrorDetail:
    detail = error_detail_from_metadata(error.trailing_metadata())
    assert detail is not None, "no tamaru-error-bin in the trailing metadata"
    return detail


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("invalid_argument", grpc.StatusCode.INVALID_ARGUMENT),
        ("not_found", grpc.StatusCode.NOT_FOUND),
        ("failed_precondition", grpc.StatusCode.FAILED_PRECONDITION),
        ("permission_denied", grpc.StatusCode.PERMISSION_DENIED),
        ("aborted", grpc.StatusCode.ABORTED),
    ],
)
async def test_domain_errors_keep_code_message_and_detail(kind: str, code: grpc.StatusCode) -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Fail(
                echo_pb2.FailRequest(kind=kind, message="points must be positive", field="amount"),
                metadata=auth(echo.keys.p1_admin),
            )
    error = caught.value
    assert error.code() == code
    match = TRACE_SUFFIX.search(error.details())
    assert match, error.details()
    assert error.details().startswith("points must be positive [trace_id=")
    detail = detail_of(error)
    assert detail.reason == kind.upper()
    assert detail.field == "amount"
    assert detail.message == "points must be positive"
    assert detail.code == code.value[0]
    assert detail.trace_id == match.group(1)


async def test_unexpected_error_is_internal_with_trace_id_logged_with_stack() -> None:
    with capture_json_logs() as logs:
        async with serve_echo() as echo:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await echo.stub.Fail(
                    echo_pb2.FailRequest(kind="unexpected"), metadata=auth(echo.keys.p1_admin)
                )
    error = caught.value
    assert error.code() == grpc.StatusCode.INTERNAL
    match = INTERNAL_MESSAGE.match(error.details())
    assert match, error.details()
    trace_id = match.group(1)
    assert SECRET_TEXT not in error.details()
    assert SECRET_TEXT.encode() not in b"".join(
        value if isinstance(value, bytes) else value.encode()
        for _, value in error.trailing_metadata() or ()
    )
    assert detail_of(error).trace_id == trace_id

    errors = [r for r in logs.records() if r["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["trace_id"] == trace_id
    assert errors[0]["program_id"] == "p1"
    assert "RuntimeError" in errors[0]["exc_info"]
    assert SECRET_TEXT in errors[0]["exc_info"]  # support can see what happened
    rpc_lines = [r for r in logs.records() if r.get("method") == f"/{SERVICE.full_name}/Fail"]
    assert [(r["code"], r["trace_id"]) for r in rpc_lines if "code" in r] == [
        ("INTERNAL", trace_id)
    ]


async def test_not_implemented_is_unimplemented_not_internal() -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Fail(
                echo_pb2.FailRequest(kind="not_implemented"), metadata=auth(echo.keys.p1_admin)
            )
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_server_streaming_error_after_some_replies() -> None:
    async with serve_echo() as echo:
        call = echo.stub.EchoStream(
            echo_pb2.EchoStreamRequest(message="m", count=5, fail_kind="not_found", fail_after=2),
            metadata=auth(echo.keys.p2_backend),
        )
        received: list[int] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(call, received, lambda reply: reply.index)
    assert received == [0, 1]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert TRACE_SUFFIX.search(caught.value.details())
    assert detail_of(caught.value).reason == "NOT_FOUND"


async def test_client_streaming_unexpected_error_is_internal() -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.EchoCollect(
                iter(
                    [
                        echo_pb2.EchoCollectRequest(message="a"),
                        echo_pb2.EchoCollectRequest(message="b", fail_kind="unexpected"),
                    ]
                ),
                metadata=auth(echo.keys.p2_backend),
            )
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert INTERNAL_MESSAGE.match(caught.value.details())
    assert SECRET_TEXT not in caught.value.details()


async def test_bidi_streaming_domain_error() -> None:
    async with serve_echo() as echo:
        call = echo.stub.EchoChat(
            iter(
                [
                    echo_pb2.EchoChatRequest(message="ok"),
                    echo_pb2.EchoChatRequest(message="bad", fail_kind="invalid_argument"),
                ]
            ),
            metadata=auth(echo.keys.p1_admin),
        )
        replies: list[str] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(call, replies, lambda reply: reply.message)
    assert replies == ["p1:ok"]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail_of(caught.value).reason == "INVALID_ARGUMENT"


async def test_undecodable_request_keeps_grpcs_own_status() -> None:
    async with serve_echo() as echo:
        # Raw bytes that are not a valid EchoRequest (field 1 claims 100 bytes, has 3).
        raw = echo.channel.unary_unary(f"/{SERVICE.full_name}/Echo")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await raw(b"\x0a\x64abc", metadata=auth(echo.keys.p1_admin))
    # gRPC rejects it before any servicer code runs; grpcio answers UNKNOWN ("DecodeError").
    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    assert "DecodeError" in (caught.value.details() or "")
    assert not TRACE_SUFFIX.search(caught.value.details() or "")
    metadata_keys = [key for key, _ in caught.value.trailing_metadata() or ()]
    assert ERROR_DETAIL_METADATA_KEY not in metadata_keys
