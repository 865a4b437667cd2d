"""Idempotency keys for mutating requests, as Stripe does them.

The first response for (program, scope, key) is stored in the same transaction as the effect
and replayed for every retry; the same key with a different request is an error. Keys are kept
`RETENTION`; every service's `RetentionPurger` (runtime/retention.py) removes older ones.

Usage inside a unit of work:

    prior = await idempotency.begin(uow.session, program, "accounts.Credit", key, request)
    if prior is not None:
        return CreditResponse.FromString(prior)
    ...  # do the work
    await idempotency.finish(uow.session, program, "accounts.Credit", key, response)
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db import driver
from runtime.db.plumbing import IdempotencyRecord
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import IdempotencyKeyReused, InvalidArgument

R = TypeVar("R", bound=Message)

MAX_KEY_LENGTH = 255
RETENTION = timedelta(days=7)


def request_fingerprint(request: Message) -> bytes:
    """A hash of the request without its idempotency key (deterministic serialization)."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "idempotency_key" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("idempotency_key")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def require_key(key: str) -> str:
    if not key:
        raise InvalidArgument(
            "idempotency_key is required for this request: send a unique value per logical "
            "operation (e.g. a UUID) and reuse it on retries",
            reason="IDEMPOTENCY_KEY_MISSING",
            field="idempotency_key",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"idempotency_key is longer than {MAX_KEY_LENGTH} characters",
            field="idempotency_key",
        )
    return key


# Every mutating request runs these three, so they go to psycopg as they are: compiling them
# in SQLAlchemy each time cost more CPU than PostgreSQL spends on them.
_TABLE = IdempotencyRecord.__tablename__
_RESERVE = (
    f"INSERT INTO {_TABLE} (program_id, scope, key, request_hash, response) "
    "VALUES (%(program_id)s, %(scope)s, %(key)s, %(hash)s, '') "
    "ON CONFLICT DO NOTHING RETURNING key"
)
_STORED = (
    f"SELECT request_hash, response FROM {_TABLE} "
    "WHERE program_id = %(program_id)s AND scope = %(scope)s AND key = %(key)s"
)
_STORE = (
    f"UPDATE {_TABLE} SET response = %(response)s "
    "WHERE program_id = %(program_id)s AND scope = %(scope)s AND key = %(key)s"
)


async def begin(
    session: AsyncSession, program_id: str, scope: str, key: str, request: Message
) -> bytes | None:
    """Reserve the key, or return the stored response of the first request with it.

    A concurrent request with the same key waits here until the first one commits (then gets
    its response) or rolls back (then proceeds itself).
    """
    require_key(key)
    fingerprint = request_fingerprint(request)
    params = {"program_id": program_id, "scope": scope, "key": key, "hash": fingerprint}
    if await driver.fetch_all(session, _RESERVE, params):
        return None
    ((stored_hash, response),) = await driver.fetch_all(session, _STORED, params)
    if bytes(stored_hash) != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency_key {key!r} was already used for a different {scope} request; use a "
            "new key for a new operation",
            field="idempotency_key",
        )
    return bytes(response)


async def finish(
    session: AsyncSession, program_id: str, scope: str, key: str, response: Message
) -> None:
    await driver.execute(
        session,
        _STORE,
        {
            "program_id": program_id,
            "scope": scope,
            "key": key,
            "response": response.SerializeToString(deterministic=True),
        },
    )


async def run_idempotent(
    uow_factory: Callable[[], UnitOfWork],
    *,
    program_id: str,
    scope: str,
    key: str,
    request: Message,
    response_type: type[R],
    work: Callable[[UnitOfWork], Awaitable[R]],
) -> R:
    """Run a mutation once per idempotency key: replay the stored response for a retry,
    refuse the key for a different request, else do `work` and store its response, all in one
    transaction (retried on serialization failures)."""

    async def once(uow: UnitOfWork) -> R:
        prior = await begin(uow.session, program_id, scope, key, request)
        if prior is not None:
            return response_type.FromString(prior)
        response = await work(uow)
        await finish(uow.session, program_id, scope, key, response)
        return response

    return await run_in_transaction(uow_factory, once)


# Many keys at once (batch entries with their own keys): one array per column, so a batch
# of 1,000 is one short statement rather than 5,000 bound parameters to compile. The arrays
# go in binary (`%(...)b`): as text, psycopg quotes each key and escapes each response's
# bytes in Python, which was most of a purchase batch's parameter work.
_RESERVE_MANY = (
    f"INSERT INTO {_TABLE} (program_id, scope, key, request_hash, response) "
    "SELECT %(program_id)s, %(scope)s, k, h, '' "
    "FROM unnest(CAST(%(keys)b AS text[]), CAST(%(hashes)b AS bytea[])) AS t(k, h) "
    "ORDER BY k ON CONFLICT DO NOTHING RETURNING key"
)
_STORED_MANY = (
    f"SELECT key, request_hash, response FROM {_TABLE} "
    "WHERE program_id = %(program_id)s AND scope = %(scope)s "
    "AND key = ANY(CAST(%(keys)b AS text[]))"
)
_STORE_MANY = (
    f"UPDATE {_TABLE} AS r SET response = t.response "
    "FROM unnest(CAST(%(keys)b AS text[]), CAST(%(responses)b AS bytea[])) AS t(key, response) "
    "WHERE r.program_id = %(program_id)s AND r.scope = %(scope)s AND r.key = t.key"
)
_FORGET_MANY = (
    f"DELETE FROM {_TABLE} "
    "WHERE program_id = %(program_id)s AND scope = %(scope)s "
    "AND key = ANY(CAST(%(keys)b AS text[]))"
)


async def begin_many(
    session: AsyncSession, program_id: str, scope: str, requests: Mapping[str, Message]
) -> dict[str, bytes | IdempotencyKeyReused | None]:
    """`begin` for many keys in two statements (batch entries that carry their own keys).

    Per key: None (reserved now: do the work, then `finish_many`), the stored response of the
    first request with it, or an `IdempotencyKeyReused` error for a different request. Keys are
    reserved in sorted order, so two batches sharing keys wait for each other, never deadlock.
    """
    if not requests:
        return {}
    keys = sorted(requests)
    for key in keys:
        require_key(key)
    fingerprints = {key: request_fingerprint(requests[key]) for key in keys}
    where = {"program_id": program_id, "scope": scope}
    inserted = await driver.fetch_all(
        session,
        _RESERVE_MANY,
        {**where, "keys": keys, "hashes": [fingerprints[k] for k in keys]},
    )
    reserved = {row[0] for row in inserted}
    found: dict[str, bytes | IdempotencyKeyReused | None] = {key: None for key in reserved}
    earlier = [key for key in keys if key not in reserved]
    if earlier:
        rows = await driver.fetch_all(session, _STORED_MANY, {**where, "keys": earlier})
        for key, stored_hash, response in rows:
            found[key] = (
                bytes(response)
                if bytes(stored_hash) == fingerprints[key]
                else IdempotencyKeyReused(
                    f"idempotency_key {key!r} was already used for a different {scope} request",
                    field="idempotency_key",
                )
            )
    return found


async def finish_many(
    session: AsyncSession, program_id: str, scope: str, responses: Mapping[str, Message]
) -> None:
    """Store the responses of keys `begin_many` reserved (one statement)."""
    if not responses:
        return
    keys = list(responses)
    await driver.execute(
        session,
        _STORE_MANY,
        {
            "program_id": program_id,
            "scope": scope,
            "keys": keys,
            "responses": [responses[k].SerializeToString(deterministic=True) for k in keys],
        },
    )


async def forget_many(session: AsyncSession, program_id: str, scope: str, keys: list[str]) -> None:
    """Give back keys `begin_many` reserved for work that was then refused."""
    if keys:
        await driver.execute(
            session, _FORGET_MANY, {"program_id": program_id, "scope": scope, "keys": keys}
        )
