"""Server lifecycle: a real port from port 0, health as the probes see it, graceful shutdown that
drains in-flight calls and refuses new ones, and signal handling."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.grpcserver import install_signal_handlers
from tamaru.testing.v1 import echo_pb2
from tests.runtime.echo_server import SERVICE, auth, serve_echo

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_port_zero_binds_a_free_port() -> None:
    async with serve_echo() as first, serve_echo() as second:
        assert first.running.port > 0
        assert second.running.port not in (0, first.running.port)
        reply = await second.stub.Echo(
            echo_pb2.EchoRequest(message="hi"), metadata=auth(second.keys.p1_admin)
        )
    assert reply.message == "hi"


async def test_health_reports_not_serving_as_soon_as_stop_begins() -> None:
    async with serve_echo() as echo:
        health = health_pb2_grpc.HealthStub(echo.channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
        watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE.full_name))
        before = await watch.read()
        stopping = asyncio.create_task(echo.running.stop(5))
        during = await asyncio.wait_for(watch.read(), timeout=2)
        watch.cancel()
        await stopping
    assert overall.status == SERVING
    assert before.status == SERVING
    assert during.status == NOT_SERVING


async def test_set_serving_toggles_readiness() -> None:
    async with serve_echo() as echo:
        health = health_pb2_grpc.HealthStub(echo.channel)
        request = health_pb2.HealthCheckRequest(service=SERVICE.full_name)
        await echo.running.set_serving(False)
        down = await health.Check(request)
        await echo.running.set_serving(True)
        up = await health.Check(request)
    assert (down.status, up.status) == (NOT_SERVING, SERVING)


async def test_stop_drains_in_flight_calls_and_refuses_new_ones() -> None:
    async with serve_echo() as echo:
        key = auth(echo.keys.p1_admin)
        # The call starts when created; awaiting it later only collects the reply.
        slow = echo.stub.Echo(echo_pb2.EchoRequest(message="slow", delay_ms=700), metadata=key)
        await asyncio.sleep(0.2)  # the slow call is now running on the server
        started = time.monotonic()
        stopping = asyncio.create_task(echo.running.stop(5))
        await asyncio.sleep(0.1)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await echo.stub.Echo(echo_pb2.EchoRequest(message="new"), metadata=key, timeout=2)
        reply = await slow
        await stopping
        stop_seconds = time.monotonic() - started
    assert reply.message == "slow"
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # stop() returned once the call drained, well before the 5 s grace ran out.
    assert stop_seconds < 3


async def test_stop_cancels_calls_still_running_when_grace_ends() -> None:
    async with serve_echo() as echo:
        slow = echo.stub.Echo(
            echo_pb2.EchoRequest(message="too slow", delay_ms=5000),
            metadata=auth(echo.keys.p1_admin),
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await echo.running.stop(0.3)
        stop_seconds = time.monotonic() - started
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await slow
    assert stop_seconds < 2
    assert cut.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def test_first_signal_starts_shutdown_once() -> None:
    loop = asyncio.get_running_loop()
    calls: list[float] = []
    done = asyncio.Event()

    async def on_shutdown() -> None:
        calls.append(time.monotonic())
        await asyncio.sleep(0.1)
        done.set()

    install_signal_handlers(loop, on_shutdown)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal must not start a second shutdown
        await asyncio.wait_for(done.wait(), timeout=2)
        await asyncio.sleep(0.05)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
    assert len(calls) == 1
