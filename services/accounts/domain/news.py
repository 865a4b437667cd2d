"""News posts: what state a post is in at a given time, and the checks on its fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from runtime.errors import InvalidArgument
from services.accounts.domain.members import check_text

MAX_TITLE = 300
MAX_BODY = 20_000


class NewsStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


def news_status(publish_at: datetime, unpublished_at: datetime | None, now: datetime) -> NewsStatus:
    if unpublished_at is not None and unpublished_at <= now:
        return NewsStatus.UNPUBLISHED
    if publish_at > now:
        return NewsStatus.SCHEDULED
    return NewsStatus.PUBLISHED


def check_title(title: str, field: str = "title") -> str:
    return check_text(title, field, MAX_TITLE, required=True)


def check_body(body: str, field: str = "body") -> str:
    return check_text(body, field, MAX_BODY, required=True, multiline=True)


def check_window(publish_at: datetime, unpublish_at: datetime | None) -> None:
    if unpublish_at is not None and unpublish_at <= publish_at:
        raise InvalidArgument("unpublish_at must be after publish_at", field="unpublish_at")
