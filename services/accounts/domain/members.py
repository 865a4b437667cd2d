"""Members' profile fields and status changes: the rules, with no I/O.

Every check raises `InvalidArgument` naming the request field, so a client sees which value
to fix; values PostgreSQL would refuse (too long, a NUL character) never reach the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum

from runtime.errors import FailedPrecondition, InvalidArgument
from services.accounts.domain.model import AccountStatus

MAX_REF = 128
MAX_NAME = 200
MAX_EMAIL = 320
MAX_PHONE = 32
MAX_REASON = 500
MAX_IDENTIFIER = 128
MAX_GROUPS = 20
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_VALUE = 500
MAX_IDENTIFIERS = 20
# The `kind` column's values: IdentifierType names without their prefix, lower case (a test
# checks they match the proto enum).
IDENTIFIER_KINDS = frozenset({"card_number", "app_id", "email", "phone", "external"})

# Control characters other than tab and newlines: invisible in every UI, and NUL is refused
# by PostgreSQL (which would otherwise surface as an internal error).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")  # refused in one-line fields: names, refs, ...
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]*$")
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_text(
    value: str, field: str, max_len: int, *, required: bool = False, multiline: bool = False
) -> str:
    if required and not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > max_len:
        raise InvalidArgument(
            f"{field} must be at most {max_len} characters, got {len(value)}", field=field
        )
    if _CONTROL.search(value) or (not multiline and _LINE_BREAKS.search(value)):
        raise InvalidArgument(f"{field} must not contain control characters", field=field)
    return value


def check_external_ref(value: str, field: str = "external_ref", *, required: bool = False) -> str:
    check_text(value, field, MAX_REF, required=required)
    if value != value.strip():
        raise InvalidArgument(f"{field} must not start or end with spaces", field=field)
    return value


def check_email(value: str, field: str = "email") -> str:
    check_text(value, field, MAX_EMAIL)
    if value and not _EMAIL.match(value):
        raise InvalidArgument(f"{field} {value!r} is not an email address", field=field)
    return value


def check_phone(value: str, field: str = "phone") -> str:
    check_text(value, field, MAX_PHONE)
    if value and not _PHONE.match(value):
        raise InvalidArgument(
            f"{field} may hold digits, spaces, '+', '-' and parentheses only", field=field
        )
    return value


def parse_birth_date(value: str, today: date, field: str = "birth_date") -> date | None:
    """ISO `YYYY-MM-DD`, or "" for none; never in the future nor before 1900."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{field} must be a date as YYYY-MM-DD", field=field) from None
    if len(value) != 10:  # fromisoformat also takes 20240101; the API promises one format
        raise InvalidArgument(f"{field} must be a date as YYYY-MM-DD", field=field)
    if parsed > today or parsed.year < 1900:
        raise InvalidArgument(f"{field} {value} is not a plausible birth date", field=field)
    return parsed


def check_attributes(values: Mapping[str, str], field: str = "attributes") -> dict[str, str]:
    if len(values) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"{field} may hold at most {MAX_ATTRIBUTES} entries", field=field)
    for key, value in values.items():
        if not key or len(key) > MAX_ATTRIBUTE_KEY or not _ATTRIBUTE_KEY.match(key):
            raise InvalidArgument(
                f"{field} key {key!r} must be 1 to {MAX_ATTRIBUTE_KEY} letters, digits, "
                "'_', '.' or '-'",
                field=field,
            )
        check_text(value, f"{field}[{key}]", MAX_ATTRIBUTE_VALUE)
    return dict(values)


def check_group_ids(values: Iterable[str], field: str = "group_ids") -> tuple[str, ...]:
    """Distinct, non-empty ids in the order given (their existence is the adapter's check)."""
    ids = list(values)
    if len(ids) > MAX_GROUPS:
        raise InvalidArgument(f"{field} may hold at most {MAX_GROUPS} groups", field=field)
    for index, group_id in enumerate(ids):
        if not group_id or len(group_id) > 36:
            raise InvalidArgument(
                "a group id must be 1 to 36 characters", field=f"{field}[{index}]"
            )
    return tuple(dict.fromkeys(ids))


def check_identifier_value(value: str, field: str) -> str:
    check_text(value, field, MAX_IDENTIFIER, required=True)
    if value != value.strip():
        raise InvalidArgument(f"{field} must not start or end with spaces", field=field)
    return value


class StatusAction(StrEnum):
    SUSPEND = "suspend"
    REACTIVATE = "reactivate"
    CLOSE = "close"


_TARGET = {
    StatusAction.SUSPEND: AccountStatus.SUSPENDED,
    StatusAction.REACTIVATE: AccountStatus.ACTIVE,
    StatusAction.CLOSE: AccountStatus.CLOSED,
}


def next_status(current: AccountStatus, action: StatusAction, *, held: int) -> AccountStatus | None:
    """The status after `action`, or None when the member already has it (a no-op, so a
    repeated suspend or close is harmless). Closing is final; a merged member is gone."""
    target = _TARGET[action]
    if current is AccountStatus.MERGED:
        raise FailedPrecondition(
            "the member was merged into another one", reason="ACCOUNT_MERGED", field="member"
        )
    if current is target:
        return None
    if current is AccountStatus.CLOSED:
        raise FailedPrecondition(
            "the member is closed; closing is final", reason="ACCOUNT_CLOSED", field="member"
        )
    if target is AccountStatus.CLOSED and held > 0:
        raise FailedPrecondition(
            f"the member has {held} points held for pending orders; capture or release them "
            "before closing",
            reason="HOLDS_OPEN",
            field="member",
        )
    return target


def ensure_not_merged(status: AccountStatus, field: str = "member") -> None:
    if status is AccountStatus.MERGED:
        raise FailedPrecondition(
            "the member was merged into another one", reason="ACCOUNT_MERGED", field=field
        )


def ensure_open(status: AccountStatus, field: str = "member") -> None:
    """For changes that make no sense on a member who left (identifiers, tiers, cards)."""
    ensure_not_merged(status, field)
    if status is AccountStatus.CLOSED:
        raise FailedPrecondition("the member is closed", reason="ACCOUNT_CLOSED", field=field)
