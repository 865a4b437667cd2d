"""One NATS connection per process, reconnecting forever: a broker restart is an outage to
ride out, not a reason to crash."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


async def connect(url: str, *, name: str) -> Client:
    client: list[Client] = []

    async def on_disconnect() -> None:
        # A drain at shutdown disconnects too; only an unexpected loss deserves a warning.
        closing = bool(client) and (client[0].is_draining or client[0].is_closed)
        log.log(logging.INFO if closing else logging.WARNING, "nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected", extra={"nats_url": url})

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    nc = await nats.connect(
        servers=[u.strip() for u in url.split(",") if u.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        connect_timeout=2,
        allow_reconnect=True,
        # Keep publishing into the client's buffer while reconnecting; the outbox, not this
        # buffer, is what guarantees delivery.
        pending_size=16 * 1024 * 1024,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )
    client.append(nc)
    return nc
