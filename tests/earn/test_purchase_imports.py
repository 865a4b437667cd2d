"""Purchase file imports and converters from the program config: a Shift_JIS POS journal with
its own column names and date format, rows scored like RecordPurchase, bad rows reported by
line, re-uploads and purchases already sent through the API recorded once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tamaru.earn.v1 import earn_pb2, imports_pb2, purchases_pb2
from tests.earn.conftest import Earn, detail_of, member, new_program

POS_JOURNAL = {
    "id": "pos-journal",
    "file": "purchases",
    "encoding": "shift_jis",
    "delimiter": "\t",
    "columns": {
        "purchase_id": "伝票番号",
        "member": "会員番号",
        "card": "カード番号",
        "amount_yen": "金額",
        "occurred_at": "日時",
        "store": "店舗",
        "category": "分類",
    },
    "fixed": {"channel": "store"},
    "dateFormat": "%Y/%m/%d %H:%M",
}
PAYROLL = {
    "id": "payroll",
    "file": "grants",
    "header": False,
    "columns": {"member": "#1"},
    "fixed": {"criterion_id": "mvp"},
}


@pytest.fixture
async def shop(earn_js: JetStreamContext, channels: Any) -> Earn:
    program = await new_program(
        earn_js,
        grantCriteria=[{"id": "mvp", "name": "MVP", "points": 500}],
        earn={
            "rules": [
                {
                    "id": "drinks",
                    "name": "Drinks bonus",
                    "kind": "fixedBonus",
                    "bonusPoints": 30,
                    "categories": ["drink"],
                }
            ],
            "importConverters": [POS_JOURNAL, PAYROLL],
        },
    )
    return Earn(channels, program)


def upload(request_type: Any, data: bytes, converter: imports_pb2.Converter | None) -> list[Any]:
    parts = [] if converter is None else [request_type(converter=converter)]
    return parts + [
        request_type(chunk=data[i : i + 32 * 1024]) for i in range(0, len(data), 32 * 1024)
    ]


async def import_purchases(
    earn: Earn, data: bytes, converter: imports_pb2.Converter | None = None
) -> imports_pb2.ImportJob:
    reply = await earn.stream(
        "ImportPurchases", upload(earn_pb2.ImportPurchasesRequest, data, converter)
    )
    job: imports_pb2.ImportJob = reply.job
    return job


async def test_a_pos_journal_is_read_with_the_configs_converter_and_recorded_once(
    shop: Earn,
) -> None:
    alice, bob = uuid.uuid4().hex, uuid.uuid4().hex
    alice_id, bob_id = await shop.enrol(alice), await shop.enrol(bob)
    await shop.admin(
        "LinkIdentifier",
        accounts_pb2.LinkIdentifierRequest(
            idempotency_key=uuid.uuid4().hex,
            member=member(bob_id),
            identifier=members_pb2.IdentifierKey(
                type=members_pb2.IDENTIFIER_TYPE_CARD_NUMBER, value="CARD-9"
            ),
        ),
    )
    receipt = f"r-{uuid.uuid4().hex[:8]}"
    # The POS already sent receipt 1 through the API: the file's copy of it records nothing.
    await shop.call(
        "RecordPurchase",
        earn_pb2.RecordPurchaseRequest(
            purchase=purchases_pb2.Purchase(
                purchase_id=f"{receipt}-1",
                member=members_pb2.MemberSelector(external_ref=alice),
                channel="store",
                store="shibuya",
                amount_yen=1000,
                lines=[purchases_pb2.PurchaseLine(category="food", amount_yen=1000)],
                occurred_at=_stamp(datetime(2026, 12, 5, 14, 30, tzinfo=UTC)),
            )
        ),
    )
    rows = [
        "伝票番号\t会員番号\tカード番号\t金額\t日時\t店舗\t分類",
        f"{receipt}-1\t{alice}\t\t1000\t2026/12/05 23:30\tshibuya\tfood",  # line 2: sent before
        f"{receipt}-2\t{alice}\t\t2500\t2026/12/06 09:05\tshibuya\tdrink",  # 25 + 30 bonus
        f"{receipt}-3\t\tCARD-9\t1200\t2026/12/06 10:00\tumeda\tfood",  # 12, found by card
        f"{receipt}-4\t{alice}\t\t12,000\t06-12-2026\tumeda\tfood",  # bad date
        f"{receipt}-5\tnobody\t\t500\t2026/12/06 11:00\tumeda\tfood",  # unknown member
        f"{receipt}-6\t{bob}\t\tabc\t2026/12/06 11:00\tumeda\tfood",  # bad amount
        "",
        f"\t{bob}\t\t500\t2026/12/06 11:00\tumeda\tfood",  # line 9: no purchase id
    ]
    data = ("\n".join(rows) + "\n").encode("cp932")
    named = imports_pb2.Converter(converter_id="pos-journal")

    job = await import_purchases(shop, data, named)

    assert (job.file, job.status, job.rows_total, job.rows_ok) == ("purchases", "done", 7, 3)
    assert [(e.line, e.field) for e in job.errors] == [
        (5, "occurred_at"),
        (6, "member"),
        (7, "amount_yen"),
        (9, "purchase_id"),
    ]
    assert job.points_total == 10 + 55 + 12
    assert (await shop.balance(alice_id), await shop.balance(bob_id)) == (65, 12)
    history = await shop.call(
        "ListPurchases",
        earn_pb2.ListPurchasesRequest(member=members_pb2.MemberSelector(external_ref=alice)),
    )
    times = {p.purchase_id: p.occurred_at.ToDatetime(UTC) for p in history.purchases}
    # 09:05 in the program's zone (Asia/Tokyo) is 00:05 UTC.
    assert times[f"{receipt}-2"] == datetime(2026, 12, 6, 0, 5, tzinfo=UTC)

    again = await import_purchases(shop, data, named)
    assert (again.job_id, again.rows_ok) == (job.job_id, 3)
    assert (await shop.balance(alice_id), await shop.balance(bob_id)) == (65, 12)
    fetched = await shop.call("GetImportJob", earn_pb2.GetImportJobRequest(job_id=job.job_id))
    assert fetched.job == job


async def test_a_grant_file_names_its_converter_from_the_config(shop: Earn) -> None:
    ref = uuid.uuid4().hex
    account = await shop.enrol(ref)
    reply = await shop.stream(
        "ImportGrants",
        upload(
            earn_pb2.ImportGrantsRequest,
            f"{ref}\n".encode(),
            imports_pb2.Converter(converter_id="payroll"),
        ),
    )
    assert (reply.job.file, reply.job.rows_ok) == ("grants", 1)
    assert await shop.balance(account) == 500


@pytest.mark.parametrize(
    ("converter", "code", "field"),
    [
        (
            imports_pb2.Converter(converter_id="nope"),
            grpc.StatusCode.NOT_FOUND,
            "converter.converter_id",
        ),
        (
            imports_pb2.Converter(converter_id="pos-journal"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "converter.converter_id",
        ),
        (
            imports_pb2.Converter(converter_id="payroll", encoding="shift_jis"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "converter",
        ),
        (
            imports_pb2.Converter(columns={"amount_yen": "#1"}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "converter.columns",
        ),
    ],
)
async def test_a_grant_upload_with_a_wrong_converter_is_refused_and_changes_nothing(
    shop: Earn, converter: imports_pb2.Converter, code: grpc.StatusCode, field: str
) -> None:
    ref = uuid.uuid4().hex
    account = await shop.enrol(ref)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await shop.stream(
            "ImportGrants",
            upload(earn_pb2.ImportGrantsRequest, f"{ref},mvp\n".encode(), converter),
        )
    assert err.value.code() == code
    assert detail_of(err.value).field == field
    assert await shop.balance(account) == 0


async def test_an_inline_converter_reads_iso_times_and_positions(shop: Earn) -> None:
    ref = uuid.uuid4().hex
    account = await shop.enrol(ref)
    receipt = uuid.uuid4().hex[:12]
    data = (
        f"{receipt},{ref},3000,2026-12-06T10:00:00+09:00\n"
        f"{receipt}-b,{ref},100,2026-12-06T10:00:00\n"  # no offset: the program's zone
    ).encode()
    converter = imports_pb2.Converter(
        no_header=True,
        columns={"purchase_id": "#1", "member": "#2", "amount_yen": "#3", "occurred_at": "#4"},
        fixed={"channel": "ecommerce"},
    )
    job = await import_purchases(shop, data, converter)
    assert (job.rows_ok, job.rows_failed, job.points_total) == (2, 0, 31)
    assert await shop.balance(account) == 31
    history = await shop.call(
        "ListPurchases",
        earn_pb2.ListPurchasesRequest(member=members_pb2.MemberSelector(external_ref=ref)),
    )
    assert {p.occurred_at.ToDatetime(UTC) for p in history.purchases} == {
        datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    }
    assert {p.channel for p in history.purchases} == {"ecommerce"}


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp
