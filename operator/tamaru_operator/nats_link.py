"""The operator's one NATS connection, made in the background so a broker that is down at start
does not block kopf: handlers ask for it and get `NatsUnavailable` (a retry) until it is up."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.messaging.connection import connect


class NatsUnavailable(Exception):
    """NATS is not reachable right now: retry later."""


class NatsLink:
    def __init__(self, url: str, *, name: str = "tamaru-operator") -> None:
        self.url = url
        self.name = name
        self._connecting: asyncio.Task[Client] | None = None

    def start(self) -> None:
        """Begin connecting (the client keeps retrying, and reconnects forever once connected)."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(connect(self.url, name=self.name))

    async def jetstream(self, *, timeout: float = 2.0) -> JetStreamContext:
        self.start()
        assert self._connecting is not None
        try:
            client = await asyncio.wait_for(asyncio.shield(self._connecting), timeout)
        except TimeoutError:
            raise NatsUnavailable(f"cannot reach NATS at {self.url} yet") from None
        except Exception as exc:  # e.g. a malformed URL: say so, and try afresh next time
            self._connecting = None
            raise NatsUnavailable(f"cannot connect to NATS at {self.url}: {exc}") from exc
        if not client.is_connected:
            raise NatsUnavailable(f"NATS at {self.url} is disconnected, reconnecting")
        return client.jetstream()

    async def close(self) -> None:
        client, task = self.client(), self._connecting
        self._connecting = None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if client is None:
            return
        try:
            await client.drain()
        except Exception:  # e.g. reconnecting to a broker that went away: close anyway
            with contextlib.suppress(Exception):
                await client.close()

    def client(self) -> Client | None:
        """The connected (or reconnecting) client, once there is one."""
        task = self._connecting
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()
