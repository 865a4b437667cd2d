"""`SandboxGateway`: an in-memory test double of the card payment gateway.

Test tokens: `tok_approve` approves, `tok_decline` is declined, `tok_timeout` authorises and then
loses the reply (raises `GatewayTimeout`, like a network cut after the gateway acted) so callers
must find and void the payment by its reference. It keeps every payment, so tests can assert
that nothing was left authorised. Never for production: it moves no money.
"""

from __future__ import annotations

import asyncio
import itertools

from services.redeem.adapters.payment_gateway import (
    GatewayTimeout,
    Payment,
    PaymentDeclined,
    PaymentStatus,
)

APPROVE = "tok_approve"
DECLINE = "tok_decline"
TIMEOUT = "tok_timeout"


class SandboxGateway:
    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def authorize(self, reference: str, token: str, amount_yen: int) -> Payment:
        async with self._lock:
            existing = self.payments.get(reference)
            if existing is None:
                if token == DECLINE:
                    raise PaymentDeclined("the card was declined (sandbox token tok_decline)")
                if token not in (APPROVE, TIMEOUT):
                    raise PaymentDeclined(
                        f"unknown sandbox token {token[:20]!r}", code="invalid_token"
                    )
                if amount_yen <= 0:
                    raise PaymentDeclined("amount must be positive", code="invalid_amount")
                existing = Payment(
                    reference, f"sbx_auth_{next(self._ids)}", amount_yen, PaymentStatus.AUTHORISED
                )
                self.payments[reference] = existing
            if token == TIMEOUT:
                raise GatewayTimeout(f"sandbox: no reply for {reference} (tok_timeout)")
            return existing

    async def capture(self, reference: str) -> Payment:
        async with self._lock:
            payment = self.payments.get(reference)
            if payment is None:
                raise PaymentDeclined(f"no payment {reference}", code="not_found")
            if payment.status is PaymentStatus.AUTHORISED:
                payment = self._set(payment, PaymentStatus.CAPTURED)
            elif payment.status is not PaymentStatus.CAPTURED:
                raise PaymentDeclined(
                    f"payment {reference} is {payment.status.value}", code="not_capturable"
                )
            return payment

    async def void(self, reference: str) -> Payment | None:
        async with self._lock:
            payment = self.payments.get(reference)
            if payment is not None and payment.status is PaymentStatus.AUTHORISED:
                payment = self._set(payment, PaymentStatus.VOIDED)
            return payment

    async def refund(self, reference: str) -> Payment | None:
        async with self._lock:
            payment = self.payments.get(reference)
            if payment is not None and payment.status is PaymentStatus.CAPTURED:
                payment = self._set(payment, PaymentStatus.REFUNDED)
            return payment

    async def lookup(self, reference: str) -> Payment | None:
        return self.payments.get(reference)

    def with_status(self, status: PaymentStatus) -> list[Payment]:
        return [p for p in self.payments.values() if p.status is status]

    def _set(self, payment: Payment, status: PaymentStatus) -> Payment:
        updated = Payment(payment.reference, payment.authorization_id, payment.amount_yen, status)
        self.payments[payment.reference] = updated
        return updated
