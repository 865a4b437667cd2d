"""The operator's NATS link closes its client on the way out, even while the client is
reconnecting to a broker that went away (its drain is refused then): an unclosed client would
keep tasks on an event loop that kopf is about to close."""

from __future__ import annotations

import asyncio

from tamaru_operator.nats_link import NatsLink
from tests.infra.fixtures import scratch_nats


async def test_close_closes_the_client_even_while_it_reconnects() -> None:
    async with scratch_nats("tamaru-test-nats-link-") as server:
        link = NatsLink(server.url)
        await link.jetstream(timeout=5)
        client = link.client()
        assert client is not None
        assert client.is_connected
        await server.stop()
        for _ in range(100):
            if not client.is_connected:
                break
            await asyncio.sleep(0.05)
        assert not client.is_connected
        await link.close()
    assert client.is_closed
    assert link.client() is None
