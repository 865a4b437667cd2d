"""A service's health check tells the truth about its NATS link: NOT_SERVING while NATS is down,
SERVING again once nats-py has reconnected and replayed its command subscriptions, and
NOT_SERVING plus `failed` (the process exits to be replaced) when the connection is closed for
good. Before the link watch, health said SERVING through all three."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc.aio
import nats
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client

from runtime.devstack import NatsServer
from runtime.grpcserver.server import LIVENESS_NAME
from runtime.messaging.commands import command_subject
from services.catalog.app import definition as catalog_definition
from tests.infra.fixtures import scratch_nats
from tests.support.services import running_service

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SUBJECT = command_subject("catalog", "QuoteShipping")


@pytest_asyncio.fixture(loop_scope="session")
async def own_nats() -> AsyncIterator[NatsServer]:
    """A NATS server this test alone stops and starts (same port, same store)."""
    async with scratch_nats("tamaru-test-nats-link-") as server:
        yield server


async def wait_status(health: health_pb2_grpc.HealthStub, want: int, timeout: float) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    status = -1
    while loop.time() < deadline:
        status = (await health.Check(health_pb2.HealthCheckRequest(service=""))).status
        if status == want:
            break
        await asyncio.sleep(0.1)
    return status


async def responds(client: Client, timeout: float) -> bool:
    """Whether the catalog command subject has a responder (any reply counts)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            await client.request(SUBJECT, b"", timeout=1)
            return True
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            await asyncio.sleep(0.2)
    return False


async def test_health_follows_the_nats_link_and_a_closed_link_fails_the_service(
    own_nats: NatsServer, database_url: str
) -> None:
    async with (
        running_service(catalog_definition, database_url, own_nats.url) as app,
        grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        client = await nats.connect(
            own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
        )
        try:
            assert await wait_status(health, SERVING, 5) == SERVING
            assert await responds(client, 5)

            await own_nats.stop()
            assert await wait_status(health, NOT_SERVING, 5) == NOT_SERVING
            alive = await health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_NAME))
            assert alive.status == SERVING  # unready, but no reason to restart the pod

            await own_nats.start()
            assert await wait_status(health, SERVING, 10) == SERVING
            assert await responds(client, 10), "subscriptions not replayed after reconnect"
            assert not app.failed.is_set()

            assert app.ctx is not None
            await app.ctx.nc.close()  # as nats-py does on a server -ERR: never reopened
            assert await wait_status(health, NOT_SERVING, 5) == NOT_SERVING
            await asyncio.wait_for(app.failed.wait(), timeout=5)
            assert not await responds(client, 1)
        finally:
            await client.close()
