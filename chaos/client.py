"""Calling a service as a careful client does: one deadline per attempt, retries with the same
idempotency key while the answer is "not now" or unknown, until a time budget runs out.

A definite answer (OK, or an error the server decided) ends the request. Everything else is
retried: UNAVAILABLE and DEADLINE_EXCEEDED (a service or its database is down, or slow), and
also INTERNAL, UNKNOWN, ABORTED and UNAUTHENTICATED, because during an outage those come from
the plumbing (a lost database connection surfaces as INTERNAL; a service restarting may not know
a program's keys yet), and a retry with the same key is safe. Those codes are counted, so the
report shows how often the services answered that way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from chaos.history import Op, Outcome
from runtime.grpcserver.error_mapping import error_detail_from_metadata

RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)

# Short reconnect backoff: a restarted service is found again within a second, not after
# gRPC's default backoff (which grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

# (request, metadata, timeout) -> response
UnaryCall = Callable[..., Awaitable[Any]]
Ack = Callable[[Any], tuple[tuple[str, ...], tuple[str, ...]]]


@dataclass(frozen=True)
class Attempt:
    response: Any  # the response message when ok
    code: grpc.StatusCode
    reason: str

    @property
    def ok(self) -> bool:
        return self.code is grpc.StatusCode.OK


async def attempt(
    call: UnaryCall, request: Message, metadata: tuple[tuple[str, str], ...], timeout: float
) -> Attempt:
    try:
        response = await call(request, metadata=metadata, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        detail = error_detail_from_metadata(exc.trailing_metadata())
        return Attempt(None, exc.code(), detail.reason if detail else "")
    return Attempt(response, grpc.StatusCode.OK, "")


@dataclass
class RetryPolicy:
    attempt_timeout: float = 5.0
    budget: float = 20.0  # total seconds for one request, retries included
    first_backoff: float = 0.1
    max_backoff: float = 1.0


async def execute(
    op: Op,
    call: UnaryCall,
    metadata: tuple[tuple[str, str], ...],
    ack: Ack,
    policy: RetryPolicy,
    clock: Callable[[], float],
) -> Op:
    """Send `op.request` until a definite answer or the budget is spent; fill in the outcome."""
    deadline = time.monotonic() + policy.budget
    backoff = policy.first_backoff
    while True:
        op.attempts += 1
        remaining = deadline - time.monotonic()
        timeout = max(0.5, min(policy.attempt_timeout, remaining))
        result = await attempt(call, op.request, metadata, timeout)
        if result.ok:
            op.outcome = Outcome.OK
            op.code, op.reason = "", ""
            op.tx_ids, op.refs = ack(result.response)
            break
        op.code, op.reason = result.code.name, result.reason
        if result.code not in RETRYABLE:
            op.outcome = Outcome.FAIL
            break
        op.retried_codes.append(result.code.name)
        if time.monotonic() + backoff >= deadline:
            op.outcome = Outcome.INFO
            break
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, policy.max_backoff)
    op.ended = clock()
    return op
