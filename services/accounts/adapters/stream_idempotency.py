"""Idempotency keys for a client-streamed request (ImportMembers).

A stream cannot be held whole to fingerprint it first, and its work spans many transactions,
so `runtime.idempotency.run_idempotent` does not fit. Instead the caller hashes the stream as
it reads it, looks for a stored response before doing any work, and stores the response with
the hash when done. Same table and retention as every other key.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from runtime.db.plumbing import IdempotencyRecord
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction


async def stored_response(
    uow_factory: Callable[[], UnitOfWork], program_id: str, scope: str, key: str
) -> tuple[bytes, bytes] | None:
    """(request hash, response) of the first stream with this key, if one finished."""
    async with uow_factory() as uow:
        row = (
            await uow.session.execute(
                select(IdempotencyRecord.request_hash, IdempotencyRecord.response).where(
                    IdempotencyRecord.program_id == program_id,
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.key == key,
                )
            )
        ).one_or_none()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


async def store_response(
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    scope: str,
    key: str,
    request_hash: bytes,
    response: bytes,
) -> None:
    """Keep the first response; a concurrent duplicate that finished first wins."""

    async def work(uow: UnitOfWork) -> None:
        await uow.session.execute(
            insert(IdempotencyRecord)
            .values(
                program_id=program_id,
                scope=scope,
                key=key,
                request_hash=request_hash,
                response=response,
            )
            .on_conflict_do_nothing()
        )

    await run_in_transaction(uow_factory, work)
