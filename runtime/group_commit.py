"""Group commit: concurrent requests of one kind share a database transaction under load.

A request that finds nobody committing for its group (a program, say) runs alone on its usual
path, at once: at low load nothing changes. Requests that arrive while one is in flight queue
up; when it finishes, the first of them becomes the leader and runs every queued request (up to
`max_batch`) as one batch, in one transaction, in its own task. The others (followers) wait for
their own outcome. A batch costs about as many round trips as one request, so the service's CPU
per request and the queueing both fall as the load grows; PostgreSQL does the same with WAL
flushes.

The batch runner answers each item with a result, or with `SOLO`: "run this one on the usual
path yourself" (a request the batch cannot take as it is: a bad one, whose error must be
exactly the usual one, or a second request for the same key or account). If the batch itself
fails, every item goes solo. Going solo is always safe because every request carries an
idempotency key: if the batch did commit before failing (a lost reply, a cancellation), the
usual path replays the stored response.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeAlias, TypeVar

from opentelemetry import trace

G = TypeVar("G", bound=Hashable)  # what requests are grouped by: a program id, say
T = TypeVar("T")
R = TypeVar("R")


class _Token:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


SOLO: Final = _Token("SOLO")  # the item runs alone on the usual path
_LEAD: Final = _Token("LEAD")  # the waiter runs the next batch

Outcome: TypeAlias = R | _Token  # what a batch answers for one item

SPAN_ATTR_BATCH_SIZE = "tamaru.group_commit.batch_size"
SPAN_ATTR_LEADER_TRACE = "tamaru.group_commit.leader_trace_id"


@dataclass(eq=False)
class _Waiter(Generic[T, R]):
    item: T
    future: asyncio.Future[R | _Token] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    leader_trace: str = ""  # the trace of the request that ran this one's batch


# (group, items) -> one outcome per item, in order: a result or SOLO.
BatchRunner = Callable[[G, Sequence[T]], Awaitable[Sequence[R | _Token]]]


class GroupCommit(Generic[G, T, R]):
    """Leader/follower batching of `submit`ted items per group (see the module docstring)."""

    def __init__(
        self, run_batch: BatchRunner[G, T, R], max_batch: int = 100, committers: int = 1
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        # Committers in flight per group at most. Two let one batch's CPU work overlap the
        # other's round trips, but for accounts' credits they measured 2.6x slower than one
        # (halved batches, row-lock waits between them), so one is the default.
        self._committers = committers
        self._busy: dict[G, int] = {}
        self._queues: dict[G, deque[_Waiter[T, R]]] = {}
        self.batches = 0  # batches of two or more run so far (for tests and metrics)
        _instances.add(self)

    def queued(self) -> int:
        """Requests waiting for a batch now, over every group."""
        return sum(len(queue) for queue in self._queues.values())

    async def submit(self, group: G, item: T, alone: Callable[[], Awaitable[R]]) -> R:
        """The item's result: from `alone()` (the usual path) or from a batch."""
        if self._busy.get(group, 0) < self._committers:
            self._busy[group] = self._busy.get(group, 0) + 1
            try:
                return await alone()
            finally:
                self._hand_off(group)
        waiter: _Waiter[T, R] = _Waiter(item)
        queue = self._queues.setdefault(group, deque())
        queue.append(waiter)
        try:
            outcome = await waiter.future
        except asyncio.CancelledError:
            self._leave(group, waiter)
            raise
        if outcome is _LEAD:
            outcome = await self._lead(group, waiter)
        elif not isinstance(outcome, _Token):
            # Its database spans are in the leader's trace: on-call staff follow this link.
            trace.get_current_span().set_attribute(SPAN_ATTR_LEADER_TRACE, waiter.leader_trace)
        if isinstance(outcome, _Token):  # SOLO
            return await alone()
        return outcome

    async def _lead(self, group: G, own: _Waiter[T, R]) -> R | _Token:
        """Run the queued items (this task's own first) as one batch; this task's outcome."""
        queue = self._queues[group]
        batch = [own]
        while queue and len(batch) < self._max_batch:
            waiter = queue.popleft()
            if not waiter.future.done():  # neither cancelled nor leading a batch of its own
                batch.append(waiter)
        others = batch[1:]
        outcomes: Sequence[R | _Token] = [SOLO] * len(batch)
        try:
            if others:
                self.batches += 1
                _mark_spans(len(batch))
                outcomes = await self._run_batch(group, [w.item for w in batch])
            else:  # alone after all (the others gave up waiting): the usual path
                outcomes = [SOLO]
        except Exception:
            outcomes = [SOLO] * len(batch)
        finally:
            # Cancelled half-way included: everyone still waiting learns their outcome.
            leader_trace = _current_trace_id()
            for waiter, outcome in zip(others, outcomes[1:], strict=True):
                if not waiter.future.done():
                    waiter.leader_trace = leader_trace
                    waiter.future.set_result(outcome)
            self._hand_off(group)
        return outcomes[0]

    def _hand_off(self, group: G) -> None:
        """A committer of the group is done: the next waiter leads, or the group has one
        committer fewer (none: idle)."""
        queue = self._queues.get(group)
        while queue:
            head = queue.popleft()
            if head.future.done():  # cancelled
                continue
            head.future.set_result(_LEAD)
            return
        self._busy[group] -= 1
        if not self._busy[group]:
            del self._busy[group]
            self._queues.pop(group, None)

    def _leave(self, group: G, waiter: _Waiter[T, R]) -> None:
        """A cancelled waiter: out of the queue; if it had just been made leader, pass it on."""
        queue = self._queues.get(group)
        if waiter.future.done() and not waiter.future.cancelled():
            if waiter.future.result() is _LEAD:  # out of the queue already
                self._hand_off(group)
            return
        if queue is not None and waiter in queue:
            queue.remove(waiter)


_instances: weakref.WeakSet[GroupCommit[Any, Any, Any]] = weakref.WeakSet()


def queued_in_process() -> int:
    """Requests waiting for a batch in every group commit of this process (tests use it to
    know that the requests they sent have all arrived and queued)."""
    return sum(instance.queued() for instance in list(_instances))


def _current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def _mark_spans(size: int) -> None:
    trace.get_current_span().set_attribute(SPAN_ATTR_BATCH_SIZE, size)
