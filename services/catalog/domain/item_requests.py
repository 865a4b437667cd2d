"""Member item requests ("I would like this item") and how admins resolve them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from runtime.errors import FailedPrecondition, InvalidArgument
from services.catalog.domain.items import require_sku
from services.catalog.domain.reservations import require_id

MAX_TITLE = 200
MAX_NOTE = 1000


class RequestStatus(StrEnum):
    OPEN = "open"
    ADDED = "added"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class NewItemRequest:
    member_id: str
    sku: str
    title: str
    note: str


@dataclass(frozen=True, slots=True)
class ItemRequest:
    request_id: str
    member_id: str
    sku: str
    title: str
    note: str
    status: RequestStatus
    resolved_sku: str
    resolution_note: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Resolution:
    request_id: str
    status: RequestStatus
    resolved_sku: str
    note: str


def validate_new_request(member_id: str, sku: str, title: str, note: str) -> NewItemRequest:
    member_id = require_id(member_id, "member_id")
    sku = require_sku(sku) if sku.strip() else ""
    title = title.strip()
    if not sku and not title:
        raise InvalidArgument("title is required when no sku is given", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidArgument(f"title is longer than {MAX_TITLE} characters", field="title")
    if len(note) > MAX_NOTE:
        raise InvalidArgument(f"note is longer than {MAX_NOTE} characters", field="note")
    return NewItemRequest(member_id, sku, title, note.strip())


def validate_resolution(
    request_id: str, status: RequestStatus | None, resolved_sku: str, note: str
) -> Resolution:
    request_id = require_id(request_id, "request_id")
    if status not in (RequestStatus.ADDED, RequestStatus.DECLINED):
        raise InvalidArgument("status must be ADDED or DECLINED", field="status")
    if status is RequestStatus.ADDED:
        resolved_sku = require_sku(resolved_sku, "resolved_sku")
    elif resolved_sku.strip():
        raise InvalidArgument("resolved_sku applies only to ADDED", field="resolved_sku")
    if len(note) > MAX_NOTE:
        raise InvalidArgument(
            f"resolution_note is longer than {MAX_NOTE} characters", field="resolution_note"
        )
    return Resolution(request_id, status, resolved_sku.strip(), note.strip())


def check_open(current: RequestStatus, request_id: str) -> None:
    if current is not RequestStatus.OPEN:
        raise FailedPrecondition(
            f"item request {request_id} is already {current.value}",
            reason="REQUEST_RESOLVED",
            field="request_id",
        )
