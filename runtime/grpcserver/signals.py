"""Stop gracefully on SIGTERM (Kubernetes) and SIGINT (Ctrl-C)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

logger = logging.getLogger("tamaru.shutdown")


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, on_shutdown: Callable[[], Awaitable[None]]
) -> None:
    """Run `on_shutdown()` once, on the first SIGTERM or SIGINT.

    Later signals are logged and ignored: shutdown is already bounded by its grace period, and a
    second Kubernetes SIGTERM must not cut short the draining the first one started.
    """
    tasks: list[asyncio.Task[None]] = []

    async def run() -> None:
        await on_shutdown()

    def handle(signum: signal.Signals) -> None:
        if tasks:
            logger.warning("received %s again; shutdown is already in progress", signum.name)
            return
        logger.info("received %s; shutting down", signum.name)
        # Keeping the task referenced stops it being garbage-collected mid-shutdown.
        tasks.append(loop.create_task(run(), name="tamaru-shutdown"))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, handle, signum)
