"""TCP helpers: free ports, is something listening, wait until it is."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from runtime.devstack.endpoint import DevStackError

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A port nobody listens on right now (the kernel picks it, so parallel runs don't collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    what: str = "server",
) -> None:
    """Poll until something accepts connections on host:port.

    `alive`, when given, is a callable returning False once the process we wait for has died,
    so a crash is reported at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if await asyncio.to_thread(port_accepts, host, port, 0.2):
            return
        if alive is not None and not alive():
            raise DevStackError(f"{what} exited before accepting connections on {host}:{port}")
        if time.monotonic() > deadline:
            raise DevStackError(f"{what} did not accept connections on {host}:{port} in {timeout}s")
        await asyncio.sleep(0.02)
