"""Checks every incoming protobuf message passes before any handler sees it.

Protobuf accepts things our storage and code cannot: NUL characters in strings (PostgreSQL
text refuses them), Timestamps outside years 1-9999 or with nanos out of range (datetime
conversion fails), and enum numbers the schema does not define (proto3 keeps them). Each is a
caller's mistake, so it is refused here with INVALID_ARGUMENT naming the field, instead of
failing deep inside as INTERNAL.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from runtime.errors import InvalidArgument

# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range google.protobuf.Timestamp allows.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799
MAX_DEPTH = 32


def check_message(message: Message, path: str = "", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidArgument("request is nested too deeply", field=path)
    if message.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        _check_timestamp(message, path)
        return
    for field, value in message.ListFields():
        name = f"{path}.{field.name}" if path else field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                _check_scalar(field.message_type.fields_by_name["key"], key, f"{name}[{key!r}]")
                _check_value(
                    field.message_type.fields_by_name["value"], item, f"{name}[{key!r}]", depth
                )
        elif field.is_repeated:
            for index, item in enumerate(value):
                _check_value(field, item, f"{name}[{index}]", depth)
        else:
            _check_value(field, value, name, depth)


def _check_value(field: FieldDescriptor, value: object, path: str, depth: int) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        check_message(value, path, depth + 1)
    else:
        _check_scalar(field, value, path)


def _check_scalar(field: FieldDescriptor, value: object, path: str) -> None:
    if field.type == FieldDescriptor.TYPE_STRING and isinstance(value, str) and "\x00" in value:
        raise InvalidArgument(f"{path} must not contain NUL characters", field=path)
    if (
        field.type == FieldDescriptor.TYPE_ENUM
        and field.enum_type is not None
        and field.enum_type.values_by_number.get(int(value)) is None  # type: ignore[call-overload]
    ):
        raise InvalidArgument(
            f"{path} is {value}, which is not a {field.enum_type.name} value", field=path
        )


def _check_timestamp(stamp: Message, path: str) -> None:
    seconds = int(stamp.seconds)  # type: ignore[attr-defined]
    nanos = int(stamp.nanos)  # type: ignore[attr-defined]
    if not MIN_SECONDS <= seconds <= MAX_SECONDS or not 0 <= nanos < 1_000_000_000:
        raise InvalidArgument(
            f"{path} is not a valid time (years 0001 to 9999, nanos 0 to 999999999)",
            field=path,
        )
