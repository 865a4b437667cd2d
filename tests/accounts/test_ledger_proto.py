"""The public accounts proto keeps the ledger's rules: idempotency keys on every mutation,
program ids on commands, int64 points, and one payload message per domain event."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.accounts.adapters.event_mapping import DIRECT, mapped_proto, to_proto
from services.accounts.domain import events as domain_events
from services.accounts.domain.model import LotDraw, Source, SourceType
from tamaru.accounts.v1 import (
    accounts_pb2,
    commands_pb2,
    events_pb2,
    ledger_pb2,
    lookup_commands_pb2,
)

READ_ONLY = re.compile(r"^(Get|List|Search|Resolve|Verify|Export)")
POINT_FIELDS = re.compile(
    r"^(amount|delta|available|held|deficit|total|issued|redeemed|expired|adjustments|"
    r"member_balances|restored|clawed_back|shortfall|qualifying_points|points_to_next|"
    r"from_available|deficit_repaid|captured_amount|balance_change|reversed_amount|"
    r"moved_available|moved_held|.*_amount)$"
)


def methods(module: typing.Any, service: str) -> list[typing.Any]:
    return list(module.DESCRIPTOR.services_by_name[service].methods)


@pytest.mark.parametrize(
    "method", methods(accounts_pb2, "AccountsService"), ids=lambda m: str(m.name)
)
def test_every_mutating_client_request_has_an_idempotency_key(method: typing.Any) -> None:
    request: Descriptor = method.input_type
    if READ_ONLY.match(method.name):
        assert "idempotency_key" not in request.fields_by_name
        return
    if method.client_streaming:  # the key travels in the stream's first (header) message
        header = request.fields_by_name["header"].message_type
        assert header is not None
        request = header
    field = request.fields_by_name["idempotency_key"]
    assert field.type == FieldDescriptor.TYPE_STRING


@pytest.mark.parametrize(
    "method",
    methods(commands_pb2, "LedgerCommandService")
    + methods(lookup_commands_pb2, "MemberLookupCommandService"),
    ids=lambda m: str(m.name),
)
def test_every_command_names_its_program_and_mutations_their_key(method: typing.Any) -> None:
    fields = method.input_type.fields_by_name
    assert fields["program_id"].type == FieldDescriptor.TYPE_STRING
    if READ_ONLY.match(method.name):
        assert "idempotency_key" not in fields
    elif "idempotency_key" not in fields:  # keyed entry by entry (BatchCredit)
        assert "idempotency_key" in fields["entries"].message_type.fields_by_name


def all_messages() -> list[Descriptor]:
    found: list[Descriptor] = []
    for module in (accounts_pb2, commands_pb2, events_pb2, ledger_pb2):
        found.extend(module.DESCRIPTOR.message_types_by_name.values())
    return found


def test_points_are_int64_everywhere() -> None:
    checked = 0
    for message in all_messages():
        for field in message.fields:
            if POINT_FIELDS.match(field.name) and field.type != FieldDescriptor.TYPE_MESSAGE:
                assert field.type == FieldDescriptor.TYPE_INT64, f"{message.name}.{field.name}"
                checked += 1
    assert checked > 40


def test_every_domain_event_has_a_payload_message() -> None:
    domain = {
        name
        for name, cls in vars(domain_events).items()
        if isinstance(cls, type) and hasattr(cls, "event_type")
    }
    assert domain  # the domain defines events at all
    payloads = set(events_pb2.DESCRIPTOR.message_types_by_name)
    assert domain - payloads == set()


@pytest.mark.parametrize(
    "message", events_pb2.DESCRIPTOR.message_types_by_name.values(), ids=lambda m: str(m.name)
)
def test_events_name_program_and_member(message: Descriptor) -> None:
    fields = set(message.fields_by_name)
    assert "program_id" in fields
    if message.name != "NewsPublished":
        assert fields & {"member_external_ref", "survivor_external_ref", "from_external_ref"}


def _credited(**changes: typing.Any) -> domain_events.PointsCredited:
    values: dict[str, typing.Any] = dict(
        program_id="p",
        account_id="a",
        tx_id="t",
        lot_id="l",
        amount=10,
        kind="normal",
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        source=Source(SourceType.CRITERION, "mvp"),
        reason="why",
        actor="key",
        sponsor_funded=True,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        adjustment=True,
        deficit_repaid=3,
    )
    return domain_events.PointsCredited(**{**values, **changes})


def _expired(**changes: typing.Any) -> domain_events.PointsExpired:
    values: dict[str, typing.Any] = dict(
        program_id="p",
        account_id="a",
        tx_id="t",
        amount=30,
        by_kind=(("normal", 20), ("period", 10)),
        lots=(LotDraw("l1", 20), LotDraw("l2", 10)),
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return domain_events.PointsExpired(**{**values, **changes})


@pytest.mark.parametrize(
    "event",
    [
        _credited(),
        _credited(expires_at=None, sponsor_funded=False, adjustment=False, deficit_repaid=0),
        _credited(reason="", actor="", kind="period"),
        _expired(),
        _expired(by_kind=(), lots=(), amount=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_direct_event_messages_match_the_mapping_by_field_name(event: typing.Any) -> None:
    """Sweeps and batches use hand-written converters for speed: same bytes as the mapping."""
    assert type(event) in DIRECT
    direct = to_proto(event).SerializeToString(deterministic=True)
    assert direct == mapped_proto(event).SerializeToString(deterministic=True)
    assert direct  # a message with content, not two empty ones
