"""Checks on request fields, raising errors that name the field at fault."""

from __future__ import annotations

from datetime import datetime

from runtime.errors import FailedPrecondition, InvalidArgument
from services.accounts.domain.model import MAX_POINTS, Account, AccountStatus, Source, SourceType

MAX_TEXT = 500
# Sources that point at a record elsewhere; without its id support cannot follow the trail.
_SOURCES_NEEDING_ID = frozenset(
    {SourceType.CRITERION, SourceType.RULE, SourceType.ORDER, SourceType.IMPORT_ROW}
)


def check_amount(value: object, field: str = "amount") -> int:
    # bool is an int subclass; float must never sneak into a points field.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{field} must be an integer number of points", field=field)
    if value <= 0:
        raise InvalidArgument(f"{field} must be positive, got {value}", field=field)
    if value > MAX_POINTS:
        raise InvalidArgument(f"{field} must be at most {MAX_POINTS}, got {value}", field=field)
    return value


def check_text(value: str, field: str, *, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > MAX_TEXT:
        raise InvalidArgument(f"{field} must be at most {MAX_TEXT} characters", field=field)
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it here, clearly
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def check_source(source: Source, field: str = "source") -> Source:
    if not isinstance(source.type, SourceType):
        raise InvalidArgument(f"{field}.type is required", field=f"{field}.type")
    if source.type in _SOURCES_NEEDING_ID and not source.id:
        raise InvalidArgument(
            f"{field}.id is required for a {source.type.value} source", field=f"{field}.id"
        )
    check_text(source.id, f"{field}.id")
    return source


def check_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(f"{field} must carry a time zone (UTC)", field=field)
    return value


def ensure_can_receive(account: Account) -> None:
    """Credits, adjustments and incoming transfers: any account that still exists."""
    if account.status is AccountStatus.MERGED:
        raise FailedPrecondition(
            f"account {account.account_id} was merged into {account.merged_into}",
            reason="ACCOUNT_MERGED",
            field="account_id",
        )
    if account.status is AccountStatus.CLOSED:
        raise FailedPrecondition(
            f"account {account.account_id} is closed", reason="ACCOUNT_CLOSED", field="account_id"
        )


def ensure_can_spend(account: Account) -> None:
    ensure_can_receive(account)
    if account.status is AccountStatus.SUSPENDED:
        raise FailedPrecondition(
            f"account {account.account_id} is suspended",
            reason="ACCOUNT_SUSPENDED",
            field="account_id",
        )
