"""Helpers shared by the members, groups, news, cards, tiers, bulk and tenancy tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from sqlalchemy import select

from runtime.db.plumbing import OutboxEvent
from runtime.db.unit_of_work import event_subject
from runtime.grpcserver import error_detail_from_metadata
from runtime.service import ServiceApp
from tamaru.accounts.v1 import accounts_pb2, events_pb2, members_pb2
from tamaru.common.v1 import common_pb2
from tests.accounts.conftest import Accounts


def key() -> str:
    return str(uuid.uuid4())


def by_id(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


def card(value: str) -> members_pb2.IdentifierKey:
    return members_pb2.IdentifierKey(type=members_pb2.IDENTIFIER_TYPE_CARD_NUMBER, value=value)


def mask(*paths: str) -> FieldMask:
    return FieldMask(paths=list(paths))


def page(size: int = 0, token: str = "") -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=size, page_token=token)


async def refused(
    call: Awaitable[Any],
    code: grpc.StatusCode,
    *,
    field: str | None = None,
    reason: str | None = None,
) -> common_pb2.ErrorDetail:
    """Await a call that must fail with `code` (and the given field / reason)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None
    if field is not None:
        assert detail.field == field, detail
    if reason is not None:
        assert detail.reason == reason, detail
    return detail


async def member(accounts: Accounts, account_id: str) -> accounts_pb2.GetMemberResponse:
    reply: accounts_pb2.GetMemberResponse = await accounts.call(
        "GetMember", accounts_pb2.GetMemberRequest(member=by_id(account_id))
    )
    return reply


async def create_group(accounts: Accounts, name: str, parent: str = "") -> str:
    reply = await accounts.call(
        "CreateGroup",
        accounts_pb2.CreateGroupRequest(idempotency_key=key(), name=name, parent_group_id=parent),
    )
    return str(reply.group.group_id)


async def outbox_events(app: ServiceApp, program_id: str, event_type: str) -> list[Any]:
    """The payloads of the program's events of one type, oldest first, as committed to the
    outbox (in the same transaction as the change)."""
    assert app.ctx is not None
    async with app.ctx.uow() as uow:
        envelopes = await uow.session.scalars(
            select(OutboxEvent.envelope)
            .where(
                OutboxEvent.program_id == program_id,
                OutboxEvent.subject == event_subject(program_id, "accounts", event_type),
            )
            .order_by(OutboxEvent.created_at)
        )
        found: list[Message] = []
        for raw in envelopes:
            envelope = common_pb2.EventEnvelope.FromString(raw)
            message_type = getattr(events_pb2, envelope.payload_type.rsplit(".", 1)[-1])
            found.append(message_type.FromString(envelope.payload))
    return found
