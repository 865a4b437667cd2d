"""Watches a service's NATS connection so its health check tells the truth.

nats-py reconnects by itself and replays every subscription (commands, consumers) once it is
back, so a broker restart needs nothing from us but patience. What the gRPC health check must
not do is say SERVING meanwhile: commands to this service have no responder and its own
commands fail. And a connection nats-py has *closed* (a server `-ERR`, or a reconnect that gave
up) never comes back: the process must be replaced, so the watch reports it as lost and the
service exits for its orchestrator to restart it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

log = logging.getLogger(__name__)

OnChange = Callable[[bool], Awaitable[None]]  # True: connected again; False: link down
OnLost = Callable[[], Awaitable[None]]


async def watch_nats_link(
    nc: Client, on_change: OnChange, on_lost: OnLost, *, interval: float = 0.25
) -> None:
    """Poll the connection's state (polling also catches states no callback announces, such
    as a reconnect task that died); call `on_change` on each flip and `on_lost` once when the
    connection is closed. Cancel the task before closing or draining the connection yourself."""
    connected = True
    while True:
        await asyncio.sleep(interval)
        if nc.is_closed:
            log.error("nats connection closed for good (last error: %s)", nc.last_error)
            await on_lost()
            return
        now = nc.is_connected
        if now != connected:
            connected = now
            if now:
                log.info("nats link back: serving again")
            else:
                log.warning("nats link down: reporting NOT_SERVING until it is back")
            await on_change(now)
