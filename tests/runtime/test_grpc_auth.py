"""API-key auth on a real gRPC server: who may call what, and each program sees only itself."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from runtime.auth import Principal, Role
from runtime.errors import PermissionDenied, Unauthenticated
from runtime.grpcserver import (
    MethodPolicy,
    NoPrincipalError,
    bind_principal,
    current_principal,
    error_detail_from_metadata,
)
from runtime.grpcserver.authorization import MISSING_KEY_MESSAGE, authorize, bearer_token
from tamaru.testing.v1 import echo_pb2
from tests.runtime.echo_server import DEFAULT_POLICY, ECHO, SERVICE, Keys, auth, serve_echo


async def test_call_without_key_is_unauthenticated() -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Echo(echo_pb2.EchoRequest(message="hi"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details().startswith(MISSING_KEY_MESSAGE)
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None
    assert (detail.reason, detail.field) == ("API_KEY_MISSING", "authorization")


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "tmr_admin_no_scheme"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer "),),
    ],
)
async def test_malformed_authorization_is_unauthenticated(
    metadata: tuple[tuple[str, str], ...],
) -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Echo(echo_pb2.EchoRequest(), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details().startswith(MISSING_KEY_MESSAGE)


async def test_unknown_key_is_unauthenticated_and_not_echoed() -> None:
    bad_key = "tmr_admin_" + "x" * 43
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Echo(echo_pb2.EchoRequest(), metadata=auth(bad_key))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown API key" in caught.value.details()
    assert bad_key not in caught.value.details()


async def test_role_not_allowed_is_permission_denied_naming_role_and_method() -> None:
    async with serve_echo() as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            # Echo is open to admin, backend and readonly, not to granter keys.
            await echo.stub.Echo(echo_pb2.EchoRequest(), metadata=auth(echo.keys.p1_granter))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'granter'" in caught.value.details()
    assert ECHO in caught.value.details()


async def test_method_missing_from_policy_is_denied_to_every_role() -> None:
    without_echo = MethodPolicy.for_service(SERVICE, {"Fail": set(Role)})
    async with serve_echo(policy=without_echo) as echo:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.stub.Echo(echo_pb2.EchoRequest(), metadata=auth(echo.keys.p1_admin))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None
    assert detail.reason == "METHOD_NOT_ALLOWED"


async def test_each_key_sees_only_its_own_program() -> None:
    async with serve_echo() as echo:
        p1 = await echo.stub.Echo(
            echo_pb2.EchoRequest(message="a"), metadata=auth(echo.keys.p1_admin)
        )
        p2 = await echo.stub.Echo(
            echo_pb2.EchoRequest(message="b"), metadata=auth(echo.keys.p2_backend)
        )
        collected = await echo.stub.EchoCollect(
            iter([echo_pb2.EchoCollectRequest(message="x")]), metadata=auth(echo.keys.p2_backend)
        )
    assert (p1.program_id, p1.role) == ("p1", "admin")
    assert (p2.program_id, p2.role) == ("p2", "backend")
    assert collected.program_id == "p2"


async def test_streaming_methods_see_the_caller_too() -> None:
    async with serve_echo() as echo:
        call = echo.stub.EchoChat(
            iter(
                [echo_pb2.EchoChatRequest(message="one"), echo_pb2.EchoChatRequest(message="two")]
            ),
            metadata=auth(echo.keys.p1_granter),
        )
        replies = [reply.message async for reply in call]
        denied = echo.stub.EchoStream(echo_pb2.EchoStreamRequest(count=2))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            _ = [reply async for reply in denied]
    assert replies == ["p1:one", "p1:two"]
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_and_reflection_need_no_key() -> None:
    async with serve_echo() as echo:
        health = health_pb2_grpc.HealthStub(echo.channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE.full_name))
        reflection = reflection_pb2_grpc.ServerReflectionStub(echo.channel)
        call = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = [
            service.name
            async for response in call
            for service in response.list_services_response.service
        ]
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    assert SERVICE.full_name in services


def test_principal_is_only_available_inside_a_call() -> None:
    with pytest.raises(NoPrincipalError):
        current_principal()
    principal = Principal(program_id="p9", role=Role.BACKEND, key_id="k")
    with bind_principal(principal):
        assert current_principal() == principal
    with pytest.raises(NoPrincipalError):
        current_principal()


def test_bearer_token_parsing() -> None:
    assert bearer_token([("authorization", "Bearer tmr_x")]) == "tmr_x"
    assert bearer_token([("x-other", "1"), ("authorization", "bearer  tmr_y ")]) == "tmr_y"
    with pytest.raises(Unauthenticated):
        bearer_token([("x-other", "Bearer tmr_x")])
    with pytest.raises(Unauthenticated):
        bearer_token(None)


def test_authorize_checks_key_before_policy() -> None:
    keys = Keys()
    ring = keys.keyring()
    unknown_method = "/tamaru.testing.v1.EchoService/Nope"
    with pytest.raises(Unauthenticated):
        authorize(unknown_method, [("authorization", "Bearer nope")], DEFAULT_POLICY, ring)
    with pytest.raises(PermissionDenied):
        authorize(unknown_method, auth(keys.p1_admin), DEFAULT_POLICY, ring)
    assert authorize(ECHO, auth(keys.p2_backend), DEFAULT_POLICY, ring).program_id == "p2"
