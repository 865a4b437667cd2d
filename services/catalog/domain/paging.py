"""Opaque page tokens for keyset paging: stable under inserts, and bound to the query.

A token holds the sort key of the last row served and a hash of the query it belongs to, so a
next page continues exactly after that row (no duplicates, no gaps when items are added) and a
token reused with other filters is refused instead of silently skipping items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
TOKEN_VERSION = 1


@dataclass(frozen=True, slots=True)
class Page:
    size: int
    after: tuple[Any, ...] | None  # the sort key of the last row served, None for page one


def page_size(
    value: int,
    *,
    default: int = DEFAULT_PAGE_SIZE,
    maximum: int = MAX_PAGE_SIZE,
    field: str = "page.page_size",
) -> int:
    if value == 0:
        return default
    if not 1 <= value <= maximum:
        raise InvalidArgument(
            f"page_size must be between 1 and {maximum} (0: {default})", field=field
        )
    return value


def query_hash(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def encode_token(query: str, key: Sequence[Any]) -> str:
    raw = json.dumps({"v": TOKEN_VERSION, "q": query, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, query: str, field: str = "page.page_token") -> tuple[Any, ...] | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
            raise ValueError("unknown token version")
        key = data["k"]
        if not isinstance(key, list):
            raise ValueError("bad key")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument(
            "page_token is not one this service issued: pass next_page_token unchanged",
            field=field,
        ) from None
    if data.get("q") != query:
        raise InvalidArgument(
            "page_token belongs to another query: keep the filters and sort of the first page, "
            "or start again without a token",
            field=field,
        )
    return tuple(key)


def page_request(size: int, token: str, query: str, field_prefix: str = "page") -> Page:
    return Page(
        size=page_size(size, field=f"{field_prefix}.page_size"),
        after=decode_token(token, query, field=f"{field_prefix}.page_token"),
    )
