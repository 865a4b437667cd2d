"""Row locks a test holds from its own connection, to make requests wait in PostgreSQL at a
known point (for example, so that others queue behind them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from runtime.service import ServiceApp


@asynccontextmanager
async def account_locked(app: ServiceApp, account_id: str) -> AsyncIterator[None]:
    """The point account locked (accounts' `app`) until the block ends."""
    assert app.ctx is not None
    async with app.ctx.uow() as uow:
        await uow.session.execute(
            text("SELECT 1 FROM point_accounts WHERE account_id = :a FOR UPDATE"),
            {"a": account_id},
        )
        yield
