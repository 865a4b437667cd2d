"""NATS commands: responses, remote domain errors arriving as the same error, deadlines,
missing responders, and unexpected failures that leak nothing but a trace id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.client import Client

from runtime.errors import DeadlineExceeded, Internal, NotFound, Unavailable
from runtime.messaging.commands import CommandClient, CommandContext, CommandServer


async def echo(ctx: CommandContext, request: StringValue) -> StringValue:
    if request.value == "missing":
        raise NotFound("member m-1 does not exist", reason="MEMBER_NOT_FOUND", field="member_id")
    if request.value == "slow":
        await asyncio.sleep(1.0)
    if request.value == "boom":
        raise RuntimeError("secret database password in this message")
    return StringValue(value=f"{ctx.program_id}:{ctx.idempotency_key}:{request.value}")


@pytest_asyncio.fixture(loop_scope="session")
async def server(nc: Client) -> AsyncIterator[CommandServer]:
    srv = CommandServer(nc, "testsvc")
    srv.register("Echo", StringValue, echo)
    await srv.start()
    yield srv
    await srv.stop()


async def test_reply_carries_program_and_idempotency_key(nc: Client, server: CommandServer) -> None:
    client = CommandClient(nc)
    reply = await client.call(
        "testsvc",
        "Echo",
        StringValue(value="hi"),
        StringValue,
        program_id="p1",
        idempotency_key="k-1",
    )
    assert reply.value == "p1:k-1:hi"


async def test_remote_domain_error_is_raised_as_the_same_error(
    nc: Client, server: CommandServer
) -> None:
    client = CommandClient(nc)
    with pytest.raises(NotFound) as caught:
        await client.call(
            "testsvc", "Echo", StringValue(value="missing"), StringValue, program_id="p1"
        )
    assert caught.value.reason == "MEMBER_NOT_FOUND"
    assert caught.value.field == "member_id"
    assert "m-1" in caught.value.message


async def test_deadline_is_enforced(nc: Client, server: CommandServer) -> None:
    client = CommandClient(nc)
    with pytest.raises(DeadlineExceeded) as caught:
        await client.call(
            "testsvc", "Echo", StringValue(value="slow"), StringValue, program_id="p1", timeout=0.2
        )
    assert "same idempotency key" in caught.value.message


async def test_no_responder_is_unavailable(nc: Client) -> None:
    client = CommandClient(nc)
    with pytest.raises(Unavailable) as caught:
        await client.call("nosuchsvc", "Echo", StringValue(value="x"), StringValue, program_id="p1")
    assert "nosuchsvc" in caught.value.message


async def test_unexpected_failure_leaks_only_a_trace_id(nc: Client, server: CommandServer) -> None:
    client = CommandClient(nc)
    with pytest.raises(Internal) as caught:
        await client.call(
            "testsvc", "Echo", StringValue(value="boom"), StringValue, program_id="p1"
        )
    assert "password" not in caught.value.message
    assert "trace_id=" in caught.value.message


async def test_commands_beyond_the_bound_wait_their_turn_and_all_get_answers(nc: Client) -> None:
    running = 0
    most = 0

    async def counted(ctx: CommandContext, request: StringValue) -> StringValue:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return StringValue(value=request.value)

    srv = CommandServer(nc, "boundsvc", max_concurrent=2)
    srv.register("Count", StringValue, counted)
    await srv.start()
    try:
        client = CommandClient(nc)
        replies = await asyncio.gather(
            *(
                client.call(
                    "boundsvc", "Count", StringValue(value=str(i)), StringValue, program_id="p1"
                )
                for i in range(8)
            )
        )
    finally:
        await srv.stop()
    assert sorted(int(r.value) for r in replies) == list(range(8))
    assert most == 2
