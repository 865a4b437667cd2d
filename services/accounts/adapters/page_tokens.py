"""Opaque keyset page tokens.

A token carries the sort key of the last row shown and a short hash of the query it belongs
to, so a token reused with other filters is refused instead of silently skipping rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from runtime.errors import InvalidArgument

FIELD = "page.page_token"


def query_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:12]


def encode_token(fingerprint: str, key: Sequence[str]) -> str:
    raw = json.dumps([fingerprint, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, fingerprint: str, arity: int) -> list[str] | None:
    """The sort key of the previous page's last row; None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != arity + 1
        or not all(isinstance(v, str) for v in values)
    ):
        raise InvalidArgument("page_token is not one this service issued", field=FIELD)
    if values[0] != fingerprint:
        raise InvalidArgument(
            "page_token belongs to a query with other filters; start again without a token",
            field=FIELD,
        )
    return values[1:]
