"""The card payment gateway redeem tops orders up through (self-pay), as a protocol.

Every call names the payment by a merchant reference (`<program>-<order id>`), the way Japanese
gateways (GMO-PG's OrderID, SBPS's order id) and Stripe's idempotency keys work: a retried call
with the same reference has one effect, and a payment whose reply was lost can still be found
and voided. A real gateway implements this protocol in its own adapter module (see
docs/redeem.md); `SandboxGateway` is the test double for tests and local runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PaymentStatus(StrEnum):
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Payment:
    reference: str
    authorization_id: str
    amount_yen: int
    status: PaymentStatus


class PaymentDeclined(Exception):
    """The card issuer or the gateway said no (definite: nothing was authorised)."""

    def __init__(self, message: str, *, code: str = "declined") -> None:
        super().__init__(message)
        self.code = code


class GatewayTimeout(Exception):
    """No answer in time: the payment may or may not exist (look it up, or void it)."""


class PaymentGateway(Protocol):
    async def authorize(self, reference: str, token: str, amount_yen: int) -> Payment:
        """Reserve `amount_yen` on the card; the same reference returns the same payment."""
        ...

    async def capture(self, reference: str) -> Payment:
        """Take the authorised money (idempotent)."""
        ...

    async def void(self, reference: str) -> Payment | None:
        """Cancel an authorisation not yet captured; None when there is no such payment."""
        ...

    async def refund(self, reference: str) -> Payment | None:
        """Give captured money back; None when there is no such payment."""
        ...

    async def lookup(self, reference: str) -> Payment | None: ...


class UnconfiguredGateway:
    """Production without a real gateway adapter: every card payment is declined, so no order
    is ever confirmed on the strength of a sandbox token (which would hand out goods unpaid)."""

    async def authorize(self, reference: str, token: str, amount_yen: int) -> Payment:
        raise PaymentDeclined(
            "card payments are not available: no payment gateway is configured",
            code="gateway_unconfigured",
        )

    async def capture(self, reference: str) -> Payment:
        raise PaymentDeclined(f"no payment {reference}", code="gateway_unconfigured")

    async def void(self, reference: str) -> Payment | None:
        return None

    async def refund(self, reference: str) -> Payment | None:
        return None

    async def lookup(self, reference: str) -> Payment | None:
        return None
