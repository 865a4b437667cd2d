"""Domain events -> `tamaru.accounts.v1` event messages -> the outbox.

The proto messages mirror the domain events field by field (a test checks every domain event
has its message), so the mapping is by field name, with the few renames and type conversions
listed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from itertools import groupby
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.db.unit_of_work import UnitOfWork
from services.accounts.domain.events import PointsCredited, PointsExpired
from services.accounts.domain.model import LotDraw, Source
from tamaru.accounts.v1 import events_pb2, ledger_pb2

RENAMED = {"transaction_id": "tx_id", "original_transaction_id": "original_tx_id"}
ENUM_PREFIX = {
    "tamaru.accounts.v1.TransactionType": "TRANSACTION_TYPE_",
    "tamaru.accounts.v1.SourceType": "SOURCE_TYPE_",
    "tamaru.accounts.v1.HoldStatus": "HOLD_STATUS_",
    "tamaru.accounts.v1.AccountStatus": "ACCOUNT_STATUS_",
}


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def source_proto(source: Source) -> ledger_pb2.Source:
    return ledger_pb2.Source(
        type=ledger_pb2.SourceType.Value(f"SOURCE_TYPE_{source.type.value.upper()}"),
        id=source.id,
    )


def enum_value(field: Any, value: Enum | str) -> int:
    prefix = ENUM_PREFIX[field.enum_type.full_name]
    name = value.value if isinstance(value, Enum) else value
    return int(field.enum_type.values_by_name[f"{prefix}{str(name).upper()}"].number)


def _convert(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_value(field, value)
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return value
    name = field.message_type.full_name if field.message_type else ""
    if name == "google.protobuf.Timestamp":
        return timestamp(value)
    if name == "tamaru.accounts.v1.Source":
        return source_proto(value)
    if name == "tamaru.accounts.v1.LotDraw":
        assert isinstance(value, LotDraw)
        return ledger_pb2.LotDraw(lot_id=value.lot_id, amount=value.amount)
    if name == "tamaru.accounts.v1.KindAmount":
        kind, amount = value
        return ledger_pb2.KindAmount(kind=kind, amount=amount)
    raise TypeError(f"no conversion for {name}")


def to_proto(event: Any) -> Message:
    direct = DIRECT.get(type(event))
    if direct is not None:
        return direct(event)
    return mapped_proto(event)


def mapped_proto(event: Any) -> Message:
    """The mapping by field name, for any event (the reference the direct ones must match)."""
    message_type = getattr(events_pb2, type(event).__name__)
    message: Message = message_type()
    _fill(message, event)
    return message


def _fill(message: Message, event: Any) -> None:
    """Set every field of `message` the event has; a nested message the event does not hold
    as one attribute (e.g. ReversalResult) is filled from the event's own fields."""
    for field in message.DESCRIPTOR.fields:
        attr = RENAMED.get(field.name, field.name)
        if not hasattr(event, attr):
            nested = field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated
            if nested and field.message_type and field.message_type.full_name.startswith("tamaru."):
                _fill(getattr(message, field.name), event)
            continue  # e.g. member_external_ref: filled by consumers that need it
        value = getattr(event, attr)
        if value is None:
            continue
        if field.is_repeated:
            getattr(message, field.name).extend(_convert(field, v) for v in value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).CopyFrom(_convert(field, value))
        else:
            setattr(message, field.name, _convert(field, value))


def _points_credited(event: PointsCredited) -> Message:
    message = events_pb2.PointsCredited(
        program_id=event.program_id,
        account_id=event.account_id,
        transaction_id=event.tx_id,
        lot_id=event.lot_id,
        amount=event.amount,
        kind=event.kind,
        source=source_proto(event.source),
        reason=event.reason,
        actor=event.actor,
        sponsor_funded=event.sponsor_funded,
        adjustment=event.adjustment,
        deficit_repaid=event.deficit_repaid,
    )
    if event.expires_at is not None:
        message.expires_at.CopyFrom(timestamp(event.expires_at))
    return message


def _points_expired(event: PointsExpired) -> Message:
    return events_pb2.PointsExpired(
        program_id=event.program_id,
        account_id=event.account_id,
        transaction_id=event.tx_id,
        amount=event.amount,
        by_kind=[ledger_pb2.KindAmount(kind=k, amount=n) for k, n in event.by_kind],
        lots=[ledger_pb2.LotDraw(lot_id=d.lot_id, amount=d.amount) for d in event.lots],
    )


# Written out for the events batches and sweeps emit by the thousand: the mapping by field
# name costs about 50 us an event here, these a few. A test checks they give the same bytes.
DIRECT: dict[type, Callable[[Any], Message]] = {
    PointsCredited: _points_credited,
    PointsExpired: _points_expired,
}


def aggregate_of(event: Any) -> str:
    for attr in ("account_id", "survivor_account_id", "from_account_id"):
        if hasattr(event, attr):
            return str(getattr(event, attr))
    return ""


async def publish_events(uow: UnitOfWork, program_id: str, events: Iterable[Any]) -> None:
    """Write the plan's events to the outbox: one row per event, one INSERT per run of events
    sharing a type and moment (a batch credit's 1,000 `points_credited` are one statement)."""
    runs = groupby(events, key=lambda e: (e.event_type, getattr(e, "occurred_at", None)))
    for (event_type, occurred_at), run in runs:
        await uow.emit_many(
            program_id,
            event_type,
            [(to_proto(e), aggregate_of(e)) for e in run],
            occurred_at=occurred_at,
        )
