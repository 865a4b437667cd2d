"""Requests carrying what protobuf accepts but storage cannot are refused up front, naming the
field (hostile-input findings F1-F3), and ordinary requests pass untouched."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument
from runtime.request_checks import check_message
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2


def test_ordinary_request_passes() -> None:
    request = accounts_pb2.CreditRequest(
        idempotency_key="k",
        member=members_pb2.MemberSelector(external_ref="emp-1"),
        amount=5,
        source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
        reason="日本語もOK",
        earned_at=Timestamp(seconds=1_700_000_000),
    )
    check_message(request)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (
            accounts_pb2.GetMemberRequest(member=members_pb2.MemberSelector(account_id="a\x00b")),
            "member.account_id",
        ),
        (
            accounts_pb2.CreditRequest(earned_at=Timestamp(seconds=-62_135_596_801)),
            "earned_at",
        ),
        (accounts_pb2.CreditRequest(earned_at=Timestamp(seconds=1, nanos=-1)), "earned_at"),
        (accounts_pb2.CreditRequest(source=ledger_pb2.Source(type=99)), "source.type"),  # type: ignore[arg-type]
        (
            accounts_pb2.ListHistoryRequest(types=[ledger_pb2.TRANSACTION_TYPE_CREDIT, -1]),  # type: ignore[list-item]
            "types[1]",
        ),
        (
            accounts_pb2.EnrolMemberRequest(attributes={"team": "a\x00"}),
            "attributes['team']",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_field(request_: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_message(request_)  # type: ignore[arg-type]
    assert caught.value.field == field
