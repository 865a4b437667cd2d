"""Thanks points: allowance, self-thanks, closed members, thread privacy, timeline paging."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext

from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2, thanks_pb2
from tests.earn.conftest import Earn, detail_of, member, new_program


async def thanks_program(js: JetStreamContext, channels: Any, **settings: Any) -> Earn:
    thanks = {"enabled": True, "monthlyAllowance": 100, "maxPerGift": 50} | settings
    return Earn(channels, await new_program(js, thanks=thanks))


async def send(
    earn: Earn, sender: str, receivers: list[str], points: int, **fields: Any
) -> earn_pb2.SendThanksResponse:
    fields.setdefault("idempotency_key", uuid.uuid4().hex)
    fields.setdefault("message", "thank you!")
    reply: earn_pb2.SendThanksResponse = await earn.call(
        "SendThanks",
        earn_pb2.SendThanksRequest(
            sender=member(sender), receivers=[member(r) for r in receivers], points=points, **fields
        ),
    )
    return reply


async def test_sponsor_funded_thanks_spend_the_monthly_allowance(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = await thanks_program(earn_js, channels)
    a, b, c = [await earn.enrol() for _ in range(3)]
    key = uuid.uuid4().hex
    first = await send(earn, a, [b, c], 30, idempotency_key=key)
    assert first.allowance_left == 40
    assert await send(earn, a, [b, c], 30, idempotency_key=key) == first  # retry: once
    assert [await earn.balance(x) for x in (a, b, c)] == [0, 30, 30]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send(earn, a, [b], 41)
    assert detail_of(err.value).reason == "ALLOWANCE_EXHAUSTED"
    assert (await send(earn, a, [b], 40)).allowance_left == 0
    allowance = await earn.call(
        "GetThanksAllowance", earn_pb2.GetThanksAllowanceRequest(member=member(a))
    )
    assert (allowance.given, allowance.left, allowance.allowance) == (100, 0, 100)
    assert await earn.balance(b) == 70


async def test_sender_balance_thanks_transfer_the_senders_points(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = await thanks_program(earn_js, channels, funding="senderBalance")
    a, b = await earn.enrol(), await earn.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send(earn, a, [b], 10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # a has nothing to give
    await earn.admin(
        "Credit",
        accounts_pb2.CreditRequest(
            idempotency_key=uuid.uuid4().hex,
            member=member(a),
            amount=40,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
        ),
    )
    await send(earn, a, [b], 25)
    assert (await earn.balance(a), await earn.balance(b)) == (15, 25)


@pytest.mark.parametrize(
    ("points", "to_self", "field", "reason"),
    [
        (10, True, "receivers[0]", "SELF_THANKS"),
        (51, False, "points", "INVALID_ARGUMENT"),
        (0, False, "points", "INVALID_ARGUMENT"),
    ],
)
async def test_bad_thanks_are_refused(
    earn_js: JetStreamContext, channels: Any, points: int, to_self: bool, field: str, reason: str
) -> None:
    earn = await thanks_program(earn_js, channels)
    a, b = await earn.enrol(), await earn.enrol()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send(earn, a, [a if to_self else b], points)
    assert (detail_of(err.value).field, detail_of(err.value).reason) == (field, reason)
    assert await earn.balance(b) == 0


async def test_closed_members_are_excluded(earn_js: JetStreamContext, channels: Any) -> None:
    earn = await thanks_program(earn_js, channels)
    a, b = await earn.enrol(), await earn.enrol()
    await earn.admin(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(idempotency_key=uuid.uuid4().hex, member=member(b)),
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send(earn, a, [b], 10)
    assert detail_of(err.value).field == "receivers[0]"


async def test_only_the_two_parties_read_and_reply_to_a_thread(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = await thanks_program(earn_js, channels)
    a, b, outsider = [await earn.enrol() for _ in range(3)]
    sent = await send(
        earn, a, [b], 10, message="great demo", visibility=thanks_pb2.VISIBILITY_PRIVATE
    )
    thanks_id = sent.thanks[0].thanks_id
    await earn.call(
        "ReplyThanks",
        earn_pb2.ReplyThanksRequest(
            idempotency_key=uuid.uuid4().hex, thanks_id=thanks_id, author=member(b), message="thx!"
        ),
    )
    for viewer in (a, b):
        thread = await earn.call(
            "GetThanksThread",
            earn_pb2.GetThanksThreadRequest(thanks_id=thanks_id, viewer=member(viewer)),
        )
        assert thread.thanks.message == "great demo"
        assert [r.message for r in thread.replies] == ["thx!"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call(
            "GetThanksThread",
            earn_pb2.GetThanksThreadRequest(thanks_id=thanks_id, viewer=member(outsider)),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call(
            "ReplyThanks",
            earn_pb2.ReplyThanksRequest(
                idempotency_key=uuid.uuid4().hex,
                thanks_id=thanks_id,
                author=member(outsider),
                message="me too",
            ),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_timeline_is_newest_first_paged_and_hides_private_messages(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn = await thanks_program(earn_js, channels, monthlyAllowance=1000)
    a, b = await earn.enrol(), await earn.enrol()
    for i in range(5):
        visibility = thanks_pb2.VISIBILITY_PUBLIC if i % 2 else thanks_pb2.VISIBILITY_PRIVATE
        await send(earn, a, [b], i + 1, message=f"m{i}", visibility=visibility)
    seen: list[tuple[int, str]] = []
    token = ""
    while True:
        page = await earn.call(
            "ListThanksTimeline",
            earn_pb2.ListThanksTimelineRequest(
                page=common_pb2.PageRequest(page_size=2, page_token=token)
            ),
        )
        seen += [(e.points, e.message) for e in page.entries]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == [(5, ""), (4, "m3"), (3, ""), (2, "m1"), (1, "")]
