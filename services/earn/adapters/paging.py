"""Opaque page tokens for newest-first listings: (time, id) of the last row shown."""

from __future__ import annotations

import base64
from datetime import datetime

from runtime.errors import InvalidArgument

DEFAULT_PAGE = 50
MAX_PAGE = 500


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("page_size must not be negative", field="page.page_size")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


def encode(at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, row_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), row_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument(
            "page_token is not one this service returned", field="page.page_token"
        ) from None
