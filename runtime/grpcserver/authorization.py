"""Who is calling and whether they may: API key from call metadata -> Principal, checked
against the MethodPolicy. Failures are domain errors, so they reach the client like any other
error (with a reason and a trace id)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runtime.auth import KeyRing, Principal
from runtime.errors import PermissionDenied, Unauthenticated
from runtime.grpcserver.policy import MethodPolicy

MISSING_KEY_MESSAGE = "missing API key: send metadata 'authorization: Bearer <key>'"


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The key in `authorization: Bearer <key>`; Unauthenticated when absent or malformed."""
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        scheme, _, token = str(value).strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        break
    raise Unauthenticated(MISSING_KEY_MESSAGE, reason="API_KEY_MISSING", field="authorization")


def authorize(
    method: str,
    metadata: Iterable[tuple[str, Any]] | None,
    policy: MethodPolicy,
    keyring: KeyRing,
) -> Principal:
    """The caller of `method`, if its key is known and its role is allowed to call it."""
    principal = keyring.resolve(bearer_token(metadata))
    if principal is None:
        # Never echo the presented key: it may be a real key of another system, pasted wrongly.
        raise Unauthenticated(
            "unknown API key: it may have been revoked or mistyped",
            reason="API_KEY_UNKNOWN",
            field="authorization",
        )
    allowed = policy.roles_for(method)
    if allowed is None:
        raise PermissionDenied(
            f"method {method} is not open to any API key role",
            reason="METHOD_NOT_ALLOWED",
        )
    if principal.role not in allowed:
        roles = ", ".join(sorted(allowed)) or "none"
        raise PermissionDenied(
            f"role '{principal.role}' may not call {method} (allowed roles: {roles})",
            reason="ROLE_NOT_ALLOWED",
        )
    return principal
