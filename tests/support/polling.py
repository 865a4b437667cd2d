"""Waiting in tests for something that happens asynchronously (a consumer applying an event,
requests queuing up): poll until it holds, never a guessed sleep, so a loaded machine only
makes a test slower."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float = 15.0,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until `done` holds for its result; that result. Fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last value: {value}")
        await asyncio.sleep(interval)
