"""Which event loop a service runs on.

uvloop (libuv under asyncio's API) spends less CPU than the standard library's selector loop
on every wake-up, and a service wakes up several times per request: the gRPC poller's
completion events, each PostgreSQL round trip, each NATS message. On the accounts bench it cut
the service's CPU per credit and per balance read by 5-10% (docs/performance.md); gRPC's own
AsyncIO benchmarks show a larger gain. `TAMARU_EVENT_LOOP=asyncio` switches back, and a machine
without uvloop (it has no Windows build) falls back to asyncio with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]


def loop_factory(name: LoopName) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: running on asyncio's own event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], loop: LoopName) -> T:
    """`asyncio.run(main)` on the chosen event loop."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
