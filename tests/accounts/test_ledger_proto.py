"""The public accounts proto keeps the ledger's rules: idempotency keys on every mutation,
program ids on commands, int64 points, and one payload message per domain event."""

from __future__ import annotations

import re
import typing

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.accounts.domain import events as domain_events
from tamaru.accounts.v1 import accounts_pb2, commands_pb2, events_pb2, ledger_pb2

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
    "method", methods(commands_pb2, "LedgerCommandService"), ids=lambda m: str(m.name)
)
def test_every_command_names_its_program_and_mutations_their_key(method: typing.Any) -> None:
    fields = method.input_type.fields_by_name
    assert fields["program_id"].type == FieldDescriptor.TYPE_STRING
    assert ("idempotency_key" in fields) == (not READ_ONLY.match(method.name))


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
