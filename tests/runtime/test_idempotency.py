"""Idempotency keys: the first response is replayed; the same key with a different request is
refused; concurrent requests with one key take effect once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import text

from runtime import idempotency
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import IdempotencyKeyReused, InvalidArgument


async def do_once(
    uow_factory: Callable[[], UnitOfWork], program_id: str, key: str, value: str
) -> str:
    request = StringValue(value=value)

    async def work(uow: UnitOfWork) -> str:
        prior = await idempotency.begin(uow.session, program_id, "rt.Do", key, request)
        if prior is not None:
            return StringValue.FromString(prior).value
        await uow.session.execute(
            text("INSERT INTO effects (event_id, note) VALUES (:k, :p)"),
            {"k": key, "p": program_id},
        )
        await asyncio.sleep(0.02)
        response = StringValue(value=f"done {value}")
        await idempotency.finish(uow.session, program_id, "rt.Do", key, response)
        return response.value

    return await run_in_transaction(uow_factory, work)


async def count_effects(uow_factory: Callable[[], UnitOfWork], program_id: str) -> int:
    async with uow_factory() as uow:
        return int(
            await uow.session.scalar(
                text("SELECT count(*) FROM effects WHERE note = :p"), {"p": program_id}
            )
            or 0
        )


async def test_replay_returns_first_response(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    first = await do_once(uow_factory, program_id, "k1", "a")
    again = await do_once(uow_factory, program_id, "k1", "a")
    assert first == again == "done a"
    assert await count_effects(uow_factory, program_id) == 1


async def test_same_key_different_request_is_refused(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    await do_once(uow_factory, program_id, "k2", "a")
    with pytest.raises(IdempotencyKeyReused) as caught:
        await do_once(uow_factory, program_id, "k2", "b")
    assert caught.value.field == "idempotency_key"
    assert await count_effects(uow_factory, program_id) == 1


async def test_keys_are_scoped_by_program(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    await do_once(uow_factory, program_id, "shared", "a")
    await do_once(uow_factory, program_id + "x", "shared", "b")  # another program: no clash
    assert await count_effects(uow_factory, program_id) == 1
    assert await count_effects(uow_factory, program_id + "x") == 1


async def test_concurrent_requests_with_one_key_take_effect_once(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    results = await asyncio.gather(*(do_once(uow_factory, program_id, "k3", "a") for _ in range(8)))
    assert set(results) == {"done a"}
    assert await count_effects(uow_factory, program_id) == 1


async def test_missing_key_is_invalid(
    uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await do_once(uow_factory, program_id, "", "a")
    assert caught.value.reason == "IDEMPOTENCY_KEY_MISSING"
