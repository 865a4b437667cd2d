"""RecordPurchase calls that queue behind one in flight are recorded as one chunk (one earn
transaction, one credit command), and each still gets the reply it would get alone, or its
usual error.

To make the queue certain, the test holds the first purchase's point account locked in
accounts: its credit waits there while the others arrive at earn and queue behind it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
from sqlalchemy import text

from runtime.service import ServiceApp
from tamaru.earn.v1 import earn_pb2
from tests.earn.conftest import Earn
from tests.earn.test_purchases import purchase, record
from tests.support.locks import account_locked


async def earn_commits(app: ServiceApp, program_id: str) -> int:
    """How many earn transactions wrote the program's purchases (rows one transaction
    inserted share its xmin)."""
    assert app.ctx is not None
    async with app.ctx.uow() as uow:
        found = await uow.session.scalar(
            text("SELECT count(DISTINCT xmin::text) FROM purchases WHERE program_id = :p"),
            {"p": program_id},
        )
    return int(found or 0)


async def test_queued_purchases_are_recorded_together_and_each_gets_its_own_reply(
    earn: Earn, earn_apps: tuple[ServiceApp, ServiceApp]
) -> None:
    accounts_app, earn_app = earn_apps
    first, *members = [await earn.enrol() for _ in range(6)]
    msgs = [purchase(m, 1000 * (i + 1)) for i, m in enumerate(members)]
    reused = purchase(members[0], 7000, purchase_id=msgs[0].purchase_id)

    async def outcome(msg: Any) -> Any:
        try:
            return await record(earn, msg)
        except grpc.aio.AioRpcError as err:
            return err

    async with account_locked(accounts_app, first):
        leader = asyncio.create_task(record(earn, purchase(first, 500)))
        await asyncio.sleep(0.3)  # in flight: its credit waits on the lock
        queued = [
            asyncio.create_task(outcome(m))
            for m in [*msgs, purchase(str(uuid.uuid4()), 100), reused]
        ]
        await asyncio.sleep(0.3)  # they have all arrived and queued
    assert (await leader).result.total_points == 5
    *replies, unknown, reused_reply = await asyncio.gather(*queued)

    assert await earn_commits(earn_app, earn.program.program_id) == 2
    for i, (msg, reply) in enumerate(zip(msgs, replies, strict=True)):
        assert reply.purchase_id == msg.purchase_id
        assert reply.result.total_points == 10 * (i + 1)
        assert await earn.balance(msg.member.account_id) == 10 * (i + 1)
        # A retry takes the usual path and replays the reply the chunk stored.
        assert await record(earn, msg) == reply
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert reused_reply.code() == grpc.StatusCode.INVALID_ARGUMENT
    history = await earn.call("ListPurchases", earn_pb2.ListPurchasesRequest(member=msgs[0].member))
    assert [x.purchase_id for x in history.purchases] == [msgs[0].purchase_id]
