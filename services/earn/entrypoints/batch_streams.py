"""Client-streamed batches (purchases, behaviours): entries are recorded concurrently, a
bounded number in flight, while one member's entries keep their stream order (so caps and
offers apply as if they came one by one); results come back in request order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from runtime.errors import TamaruError
from runtime.messaging.commands import error_detail
from tamaru.earn.v1 import earn_pb2

E = TypeVar("E")
IN_FLIGHT = 16  # each entry is an earn transaction plus accounts commands


async def record_all(
    entries: AsyncIterator[E],
    *,
    event_id: Callable[[E], str],
    member: Callable[[E], Message],
    record: Callable[[E], Awaitable[int]],
) -> tuple[list[earn_pb2.BatchEntryResult], int]:
    """(results in request order, how many were refused); `record` returns the points."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    # Keyed by the selector as sent: the same member named two ways is not ordered (rare in
    # one batch, and still recorded exactly once each).
    in_turn: defaultdict[bytes, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def one(index: int, entry: E) -> earn_pb2.BatchEntryResult:
        result = earn_pb2.BatchEntryResult(index=index, event_id=event_id(entry))
        try:
            async with in_turn[member(entry).SerializeToString(deterministic=True)]:
                result.points = await record(entry)
        except TamaruError as exc:
            result.error.CopyFrom(error_detail(exc))
        finally:
            slots.release()
        return result

    tasks: list[asyncio.Task[earn_pb2.BatchEntryResult]] = []
    try:
        async for entry in entries:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(len(tasks), entry)))
        results = list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # only unfinished ones: after a failure, stop the rest
    return results, sum(1 for r in results if r.HasField("error"))
