"""Run a mutating request once per idempotency key: the first response is stored in the same
transaction as the effect and replayed for every retry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction

Resp = TypeVar("Resp", bound=Message)


async def once(
    uow: UnitOfWork,
    program_id: str,
    scope: str,
    key: str,
    request: Message,
    response_type: type[Resp],
    work: Callable[[], Awaitable[Resp]],
) -> Resp:
    prior = await idempotency.begin(uow.session, program_id, scope, key, request)
    if prior is not None:
        return response_type.FromString(prior)
    response = await work()
    await idempotency.finish(uow.session, program_id, scope, key, response)
    return response


async def run_once(
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    scope: str,
    key: str,
    request: Message,
    response_type: type[Resp],
    action: Callable[[UnitOfWork], Awaitable[Resp]],
) -> Resp:
    """`action` in its own transaction (retried on conflicts), once per idempotency key."""

    async def work(uow: UnitOfWork) -> Resp:
        return await once(uow, program_id, scope, key, request, response_type, lambda: action(uow))

    return await run_in_transaction(uow_factory, work)
