"""Purchases, previews, returns and purchase history through real accounts and earn."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p
from tests.earn.conftest import Earn, detail_of, member, new_program


def stamp(at: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(at)
    return out


def purchase(account_id: str, amount: int = 1000, **fields: Any) -> p.Purchase:
    fields.setdefault("purchase_id", uuid.uuid4().hex)
    fields.setdefault("channel", "store")
    fields.setdefault("store", "S1")
    return p.Purchase(member=member(account_id), amount_yen=amount, **fields)


async def record(earn: Earn, msg: p.Purchase) -> earn_pb2.RecordPurchaseResponse:
    reply: earn_pb2.RecordPurchaseResponse = await earn.call(
        "RecordPurchase", earn_pb2.RecordPurchaseRequest(purchase=msg)
    )
    return reply


async def test_a_purchase_earns_the_base_rate_and_credits_it(earn: Earn) -> None:
    alice = await earn.enrol()
    reply = await record(earn, purchase(alice, 1999))
    assert reply.result.total_points == 19
    assert [(b.source, b.points) for b in reply.result.breakdown] == [("base", 19)]
    assert len(reply.result.transaction_ids) == 1
    assert await earn.balance(alice) == 19


async def test_recording_twice_with_one_purchase_id_credits_once(earn: Earn) -> None:
    alice = await earn.enrol()
    msg = purchase(alice, 5000)
    first = await record(earn, msg)
    again = await record(earn, msg)
    assert again == first
    assert await earn.balance(alice) == 50
    changed = p.Purchase()
    changed.CopyFrom(msg)
    changed.amount_yen = 6000
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await record(earn, changed)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await earn.balance(alice) == 50


async def test_a_member_is_found_by_any_identifier(earn: Earn) -> None:
    ref = uuid.uuid4().hex
    alice = await earn.enrol(ref)
    msg = purchase(alice, 300)
    msg.member.external_ref = ref
    reply = await record(earn, msg)
    assert reply.account_id == alice


async def test_preview_quotes_what_recording_earns_and_records_nothing(
    earn_js: JetStreamContext, channels: Any
) -> None:
    program = await new_program(
        earn_js,
        earn={
            "rules": [
                {"id": "double", "name": "Double", "kind": "multiplier", "multiplierPercent": 200},
                {
                    "id": "drinks",
                    "name": "Drinks bonus",
                    "kind": "fixedBonus",
                    "bonusPoints": 30,
                    "categories": ["drink"],
                    "pointKind": "campaign",
                    "capPerMember": 50,
                },
            ]
        },
        pointKinds=[
            {"id": "campaign", "name": "Campaign", "expiry": {"mode": "daysAfterEarn", "days": 30}}
        ],
    )
    earn = Earn(channels, program)
    alice = await earn.enrol()
    msg = purchase(
        alice,
        1500,
        lines=[
            p.PurchaseLine(sku="A", category="food", amount_yen=1000),
            p.PurchaseLine(sku="B", category="drink", amount_yen=500),
        ],
    )
    preview = await earn.call("PreviewPurchase", earn_pb2.PreviewPurchaseRequest(purchase=msg))
    assert await earn.balance(alice) == 0
    recorded = await record(earn, msg)
    assert preview.result.total_points == recorded.result.total_points == 60
    assert list(preview.result.breakdown) == list(recorded.result.breakdown)
    assert {k.kind: k.points for k in recorded.result.by_kind} == {"campaign": 30, "normal": 30}
    assert await earn.balance(alice) == 60
    # The member cap (50) leaves 20 for the next purchase, and the preview knows it.
    second = purchase(alice, 1500, lines=msg.lines)
    preview = await earn.call("PreviewPurchase", earn_pb2.PreviewPurchaseRequest(purchase=second))
    assert {k.kind: k.points for k in preview.result.by_kind} == {"campaign": 20, "normal": 30}
    assert (await record(earn, second)).result.total_points == 50


async def revised_program(js: JetStreamContext, channels: Any) -> tuple[Earn, datetime]:
    """A program whose base rate went from 1 to 3 points per 100 yen just now, and a moment
    before the change."""
    program = await new_program(js)
    before_change = datetime.now(UTC) - timedelta(seconds=1)
    await new_program(
        js,
        program_id=program.program_id,
        keys=program.keys,
        earn={"baseRate": {"yenPerUnit": 100, "pointsPerUnit": 3}},
    )
    return Earn(channels, program), before_change


async def test_an_event_is_scored_by_the_rules_in_force_at_its_time(
    earn_js: JetStreamContext, channels: Any
) -> None:
    earn, before_change = await revised_program(earn_js, channels)
    alice = await earn.enrol()
    old = await record(earn, purchase(alice, 1000, occurred_at=stamp(before_change)))
    new = await record(earn, purchase(alice, 1000))
    assert (old.result.total_points, new.result.total_points) == (10, 30)
    assert new.result.rules_generation == old.result.rules_generation + 1


async def test_a_partial_return_reverses_the_returned_lines_proportionally(earn: Earn) -> None:
    alice = await earn.enrol()
    msg = purchase(
        alice,
        3000,
        lines=[
            p.PurchaseLine(sku="A", category="x", amount_yen=1000),
            p.PurchaseLine(sku="B", category="x", amount_yen=2000),
        ],
    )
    await record(earn, msg)
    assert await earn.balance(alice) == 30
    ret = earn_pb2.RecordReturnRequest(
        return_id=uuid.uuid4().hex,
        purchase_id=msg.purchase_id,
        lines=[p.ReturnLine(line=1)],
    )
    reply = await earn.call("RecordReturn", ret)
    assert (reply.points_reversed, reply.returned_yen) == (20, 2000)
    assert await earn.balance(alice) == 10
    assert await earn.call("RecordReturn", ret) == reply  # a retry reverses nothing more
    assert await earn.balance(alice) == 10
    full = earn_pb2.RecordReturnRequest(
        return_id=uuid.uuid4().hex, purchase_id=msg.purchase_id, full=True
    )
    assert (await earn.call("RecordReturn", full)).points_reversed == 10
    assert await earn.balance(alice) == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await earn.call(
            "RecordReturn",
            earn_pb2.RecordReturnRequest(
                return_id=uuid.uuid4().hex, purchase_id=msg.purchase_id, full=True
            ),
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("clawback", "balance", "shortfall"), [("allowNegative", -70, 0), ("stopAtZero", 0, 70)]
)
async def test_a_return_after_the_points_were_spent_follows_the_clawback_policy(
    earn_js: JetStreamContext, channels: Any, clawback: str, balance: int, shortfall: int
) -> None:
    from tamaru.accounts.v1 import accounts_pb2, ledger_pb2

    program = await new_program(earn_js, earn={"returnPolicy": {"clawback": clawback}})
    earn = Earn(channels, program)
    alice = await earn.enrol()
    msg = purchase(alice, 10000)
    await record(earn, msg)
    await earn.admin(
        "Debit",
        accounts_pb2.DebitRequest(
            idempotency_key=uuid.uuid4().hex,
            member=member(alice),
            amount=70,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="o1"),
        ),
    )
    reply = await earn.call(
        "RecordReturn",
        earn_pb2.RecordReturnRequest(
            return_id=uuid.uuid4().hex, purchase_id=msg.purchase_id, full=True
        ),
    )
    assert reply.points_reversed == 100
    assert reply.shortfall == shortfall
    assert await earn.balance(alice) == balance


async def test_purchase_history_filters_and_pages(earn: Earn) -> None:
    alice = await earn.enrol()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(5):
        store = "S1" if i % 2 == 0 else "S2"
        await record(
            earn,
            purchase(
                alice, 100 * (i + 1), store=store, occurred_at=stamp(start + timedelta(days=i))
            ),
        )
    seen: list[int] = []
    token = ""
    while True:
        page = await earn.call(
            "ListPurchases",
            earn_pb2.ListPurchasesRequest(
                member=member(alice), page=common_pb2.PageRequest(page_size=2, page_token=token)
            ),
        )
        seen += [x.amount_yen for x in page.purchases]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == [500, 400, 300, 200, 100]
    s2 = await earn.call(
        "ListPurchases", earn_pb2.ListPurchasesRequest(member=member(alice), store="S2")
    )
    assert [x.amount_yen for x in s2.purchases] == [400, 200]
    assert s2.purchases[0].points_earned == 4
    since = await earn.call(
        "ListPurchases",
        earn_pb2.ListPurchasesRequest(member=member(alice), since=stamp(start + timedelta(days=3))),
    )
    assert [x.amount_yen for x in since.purchases] == [500, 400]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_yen": 0}, "purchase.amount_yen"),
        ({"channel": "fax"}, "purchase.channel"),
        ({"purchase_id": ""}, "purchase.purchase_id"),
    ],
)
async def test_bad_purchases_are_refused_naming_the_field(
    earn: Earn, change: dict[str, Any], field: str
) -> None:
    alice = await earn.enrol()
    msg = purchase(alice)
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await record(earn, msg)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail_of(err.value).field == field


async def test_an_unknown_member_is_not_found(earn: Earn) -> None:
    msg = purchase("nobody")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await record(earn, msg)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_purchases_record_each_once(earn: Earn) -> None:
    alice = await earn.enrol()
    good = [purchase(alice, 1000) for _ in range(3)]
    bad = purchase(alice, -5)
    requests = [earn_pb2.BatchRecordPurchasesRequest(purchase=x) for x in [*good, bad]]
    reply = await earn.stream("BatchRecordPurchases", requests)
    assert (reply.recorded, reply.rejected) == (3, 1)
    assert reply.results[3].error.field == "purchase.amount_yen"
    again = await earn.stream("BatchRecordPurchases", requests)
    assert (again.recorded, again.rejected) == (3, 1)
    assert await earn.balance(alice) == 30
