"""Making credits queue behind one in flight, for the group commit tests.

The test holds the first credit's account row locked from its own connection: that credit
waits in PostgreSQL while the others arrive and queue up behind it, and they run as one batch
once it commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy import text

from runtime.errors import TamaruError
from runtime.group_commit import queued_in_process
from runtime.service import ServiceApp
from tests.accounts.conftest import Accounts
from tests.support.locks import account_locked
from tests.support.polling import eventually


async def queued_behind_a_locked_credit(
    app: ServiceApp,
    accounts: Accounts,
    first: str,
    calls: list[Awaitable[Any]],
    first_call: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[Any, list[Any]]:
    """Run `calls` while a call on `first` (a credit RPC of 1 point, or `first_call()`) waits
    on its row lock: they queue behind it and run as one batch once it commits. Each outcome
    is a reply, an AioRpcError or the TamaruError a command raised."""

    async def outcome(call: Awaitable[Any]) -> Any:
        try:
            return await call
        except (grpc.aio.AioRpcError, TamaruError) as err:
            return err

    async with account_locked(app, first):
        leading = first_call() if first_call else accounts.credit(first, 1)
        leader: asyncio.Future[Any] = asyncio.ensure_future(leading)
        # It is in flight, waiting on the lock; then the others have all arrived and queued.
        await eventually(lambda: lock_waiters(app), lambda n: n >= 1, timeout=5)
        followers = [asyncio.create_task(outcome(call)) for call in calls]
        await eventually(queued_now, lambda n: n >= len(calls), timeout=5)
    return await leader, list(await asyncio.gather(*followers))


async def queued_now() -> int:
    return queued_in_process()


async def lock_waiters(app: ServiceApp) -> int:
    """Backends of the service's database waiting on a row lock now."""
    return await _count(
        app,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )


async def commits(app: ServiceApp, program_id: str, tx_type: str | None = None) -> int:
    """How many database transactions wrote the program's ledger transactions (of `tx_type`,
    when given): rows inserted by one transaction share its xmin."""
    return await _count(
        app,
        "SELECT count(DISTINCT xmin::text) FROM ledger_transactions "
        "WHERE program_id = :p AND (CAST(:t AS text) IS NULL OR type = :t)",
        {"p": program_id, "t": tx_type},
    )


async def _count(app: ServiceApp, sql: str, params: dict[str, Any] | None = None) -> int:
    assert app.ctx is not None
    async with app.ctx.uow() as uow:
        found = await uow.session.scalar(text(sql), params or {})
    return int(found or 0)
