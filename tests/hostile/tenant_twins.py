"""Tell "refused because it is another program's" apart from "refused because it does not exist".

A request from program B that names A's records gets a twin: the same request with each of A's
values replaced by a made-up value of the same shape (a UUID by another UUID, `ZQ12-GIFT` by
`QM84-KXSP`). If B's key can learn anything about A, the two answers differ (one NOT_FOUND, the
other PERMISSION_DENIED; one "already exists", the other OK; a different message).
"""

from __future__ import annotations

import hashlib
import random
import re
import string
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tests.hostile.proto_strategies import message_type
from tests.hostile.rpc_calls import Outcome

_TRACE_ID = re.compile(r"\s*\[?trace_id=[0-9a-f]+\]?")


def fresh_like(value: str) -> str:
    """A value of the same shape (character classes kept), the same on every run."""
    rng = random.Random(hashlib.sha256(value.encode()).digest())
    out = []
    for ch in value:
        if ch in string.digits:
            out.append(rng.choice(string.digits))
        elif ch in "abcdef" and re.fullmatch(r"[0-9a-f-]+", value):
            out.append(rng.choice("abcdef"))  # stays hexadecimal (UUIDs, hex ids)
        elif ch in string.ascii_lowercase:
            out.append(rng.choice(string.ascii_lowercase))
        elif ch in string.ascii_uppercase:
            out.append(rng.choice(string.ascii_uppercase))
        else:
            out.append(ch)
    return "".join(out)


def _rewrite_strings(message: Message, rewrite: Callable[[FieldDescriptor, str], str]) -> None:
    for f, value in message.ListFields():
        if f.type == FieldDescriptor.TYPE_STRING:
            if f.is_repeated:
                values = [rewrite(f, v) for v in value]
                del value[:]
                value.extend(values)
            else:
                setattr(message, f.name, rewrite(f, value))
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            entry = message_type(f)
            if entry.GetOptions().map_entry:
                value_field = entry.fields_by_name["value"]
                for key in list(value):
                    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                        _rewrite_strings(value[key], rewrite)
                    elif value_field.type == FieldDescriptor.TYPE_STRING:
                        value[key] = rewrite(value_field, value[key])
            elif f.is_repeated:
                for item in value:
                    _rewrite_strings(item, rewrite)
            else:
                _rewrite_strings(value, rewrite)


def refresh_idempotency_keys(requests: Iterable[Message]) -> None:
    """A new key everywhere one is asked for: a twin reusing its original's key would be
    refused as IDEMPOTENCY_KEY_REUSED whatever the tenancy."""

    def rewrite(f: FieldDescriptor, value: str) -> str:
        return str(uuid.uuid4()) if f.name == "idempotency_key" else value

    for request in requests:
        _rewrite_strings(request, rewrite)


def twin_requests(
    requests: Sequence[Message], foreign: set[str]
) -> tuple[list[Message], dict[str, str]]:
    """Copies of `requests` with every `foreign` value swapped; returns the swaps made."""
    swaps: dict[str, str] = {}

    def rewrite(f: FieldDescriptor, value: str) -> str:
        if value not in foreign:
            return value
        return swaps.setdefault(value, fresh_like(value))

    twins = []
    for request in requests:
        twin = type(request)()
        twin.CopyFrom(request)
        _rewrite_strings(twin, rewrite)
        twins.append(twin)
    return twins, swaps


def normalized(outcome: Outcome, swaps: Mapping[str, str]) -> tuple[str, str, str, str]:
    """Code, reason, field and message, with trace ids dropped and made-up values mapped back."""
    message = _TRACE_ID.sub("", outcome.details)
    for original, made_up in swaps.items():
        # Messages may quote a value cut short ("unknown prefecture '1a77c0127b1c054d5a57'").
        for n in range(len(made_up), min(8, len(made_up)) - 1, -1):
            if made_up[:n] in message:
                message = message.replace(made_up[:n], original[:n])
                break
    detail = outcome.detail
    return (
        outcome.code.name,
        detail.reason if detail else "",
        detail.field if detail else "",
        message,
    )


def answer_bytes(outcome: Outcome) -> bytes:
    """Everything the caller got back: response messages, status message, error detail."""
    parts = [r.SerializeToString() for r in outcome.responses]
    parts.append(outcome.details.encode("utf-8", "replace"))
    if outcome.detail is not None:
        parts.append(outcome.detail.SerializeToString())
    return b"\n".join(parts)
