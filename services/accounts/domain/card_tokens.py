"""Signed, short-lived membership-card tokens (the payload of a QR code or barcode).

Format (ASCII, documented for POS developers in docs/members.md):

    TC1.<program_id>.<account_id>.<expires: unix seconds>.<signature>

`signature` is the unpadded base64url HMAC-SHA256 of everything before the last dot, keyed by
the program's card key. The program's key is derived from the service's signing key, so each
program (and each POS holding one program's key) can verify only its own tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runtime.errors import FailedPrecondition, InvalidArgument

VERSION = "TC1"
DEFAULT_TTL = timedelta(minutes=5)
MAX_TTL = timedelta(days=1)
MAX_TOKEN_LENGTH = 256
_KEY_CONTEXT = b"tamaru card key v1:"


def program_card_key(service_key: bytes, program_id: str) -> bytes:
    """The key one program's tokens are signed with (a POS of that program may hold it)."""
    return hmac.new(service_key, _KEY_CONTEXT + program_id.encode(), hashlib.sha256).digest()


def _signature(program_key: bytes, body: str) -> str:
    digest = hmac.new(program_key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class CardClaims:
    program_id: str
    account_id: str
    expires_at: datetime


def card_ttl(seconds: int) -> timedelta:
    """0 means the default; otherwise 1 second to a day."""
    if seconds == 0:
        return DEFAULT_TTL
    if not 1 <= seconds <= MAX_TTL.total_seconds():
        raise InvalidArgument(
            f"ttl_seconds must be between 1 and {int(MAX_TTL.total_seconds())} (0: 5 minutes)",
            field="ttl_seconds",
        )
    return timedelta(seconds=seconds)


def issue_card_token(
    program_key: bytes, program_id: str, account_id: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    """The token and when it expires (whole seconds, as the token carries them)."""
    expires = int((now + ttl).timestamp())
    body = f"{VERSION}.{program_id}.{account_id}.{expires}"
    return f"{body}.{_signature(program_key, body)}", datetime.fromtimestamp(expires, UTC)


def _invalid() -> InvalidArgument:
    # One answer for every malformed, foreign or forged token: a guesser learns nothing.
    return InvalidArgument(
        "token is not a membership card token of this program",
        reason="CARD_TOKEN_INVALID",
        field="token",
    )


def read_card_token(token: str, program_id: str, program_key: bytes, now: datetime) -> CardClaims:
    """Verify a token for `program_id`: INVALID_ARGUMENT / CARD_TOKEN_INVALID unless it is
    well formed and signed with the program's key, FAILED_PRECONDITION / CARD_TOKEN_EXPIRED
    once its time has passed."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise _invalid()
    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 4 or parts[0] != VERSION or parts[1] != program_id:
        raise _invalid()
    if not hmac.compare_digest(signature, _signature(program_key, body)):
        raise _invalid()
    try:
        expires_at = datetime.fromtimestamp(int(parts[3]), UTC)
    except (ValueError, OverflowError, OSError):
        raise _invalid() from None
    if now >= expires_at:
        raise FailedPrecondition(
            "the card token has expired; ask the member to show a fresh code",
            reason="CARD_TOKEN_EXPIRED",
            field="token",
        )
    return CardClaims(program_id=parts[1], account_id=parts[2], expires_at=expires_at)
