"""The caller of the RPC being served, for servicers to scope every query by its program."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from runtime.auth import Principal
from runtime.telemetry.logging import bind_program_id

_principal: ContextVar[Principal | None] = ContextVar("tamaru_principal", default=None)


class NoPrincipalError(RuntimeError):
    """Code asked for the caller where there is none: a public method or outside any RPC."""


def current_principal() -> Principal:
    """The authenticated caller of the current RPC; every query must filter on its program_id."""
    principal = _principal.get()
    if principal is None:
        raise NoPrincipalError(
            "no authenticated caller in this context: current_principal() works only inside an "
            "RPC whose method the MethodPolicy lists (or inside bind_principal)"
        )
    return principal


def current_principal_or_none() -> Principal | None:
    return _principal.get()


@contextmanager
def bind_principal(principal: Principal) -> Iterator[Principal]:
    """Run the block as `principal` (log lines carry its program). The auth stage uses this for
    every RPC; other entry points (a NATS command acting for a caller) may too."""
    token = _principal.set(principal)
    try:
        with bind_program_id(principal.program_id):
            yield principal
    finally:
        _principal.reset(token)
