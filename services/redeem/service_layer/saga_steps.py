"""What each saga step does remotely: forward steps, their undo steps, and cancellation.

Each function takes the order as saved and returns it with the step's outcome filled in; the
runner saves it. Remote calls use keys derived from the order id and the step, so running a
step again (after a crash, a timeout or a lost reply) returns the first outcome. Undo steps
accept that their target is already gone (a hold already released, a reservation expired).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from runtime.errors import Code, FailedPrecondition, TamaruError
from runtime.programs.spec import ProgramSpec
from services.redeem.adapters.payment_gateway import PaymentGateway
from services.redeem.adapters.refusals import is_short_of_points
from services.redeem.adapters.remote import Accounts, Catalog, by_account, order_source
from services.redeem.domain import saga
from services.redeem.domain.orders import GiftCode, Order, OrderKind, PricedLine
from services.redeem.domain.payment_split import SelfPayRules, split_payment

Checkpoint = Callable[[Order], Awaitable[None]]

# A reservation outlives the hold a little, so stock never frees up while points are held.
RESERVATION_MARGIN_SECONDS = 60

# Refusals an undo step takes as "already undone".
_ALREADY_SETTLED = {"HOLD_ALREADY_SETTLED", "RESERVATION_SETTLED", "RESERVATION_EXPIRED"}

DEFINITE = {
    Code.INVALID_ARGUMENT,
    Code.NOT_FOUND,
    Code.ALREADY_EXISTS,
    Code.PERMISSION_DENIED,
    Code.FAILED_PRECONDITION,
    Code.RESOURCE_EXHAUSTED,
}


def is_definite(error: TamaruError) -> bool:
    """A refusal: the remote side rolled back, so the step had no effect."""
    return error.code in DEFINITE


def self_pay_rules(spec: ProgramSpec) -> SelfPayRules:
    return SelfPayRules(
        enabled=spec.self_pay.enabled,
        yen_per_point=spec.yen_per_point,
        min_points=spec.self_pay.min_points,
        max_yen=spec.self_pay.max_yen,
    )


class OrderSteps:
    def __init__(
        self, accounts: Accounts, catalog: Catalog, gateway: PaymentGateway, spec: ProgramSpec
    ) -> None:
        self.accounts = accounts
        self.catalog = catalog
        self.gateway = gateway
        self.spec = spec

    @property
    def hold_ttl(self) -> int:
        return self.spec.redeem.hold_ttl_seconds

    # -- forward -----------------------------------------------------------------------------

    async def forward(self, step: str, order: Order, checkpoint: Checkpoint) -> Order:
        if step == saga.RESERVE_STOCK:
            return await self.reserve_stock(order)
        if step == saga.HOLD_POINTS:
            return await self.hold_points(order, checkpoint)
        if step == saga.AUTHORISE_PAYMENT:
            payment = await self.gateway.authorize(
                order.payment_reference, order.payment_token, order.yen_paid
            )
            return dataclasses.replace(order, authorization_id=payment.authorization_id)
        if step == saga.CAPTURE_POINTS:
            captured = await self.accounts.capture_hold(
                order.hold_id, order.order_id, order.step_key(step)
            )
            return dataclasses.replace(order, capture_tx_id=captured.transaction_id)
        if step == saga.CAPTURE_PAYMENT:
            await self.gateway.capture(order.payment_reference)
            return order
        if step == saga.COMMIT_STOCK:
            await self.catalog.commit(order.reservation_id, order.step_key(step))
            return order
        if step == saga.ISSUE_CODES:
            issued = await self.catalog.issue_codes(order.reservation_id, order.step_key(step))
            codes = tuple(GiftCode(c.sku, c.code) for c in issued.codes)
            return dataclasses.replace(order, codes=codes)
        raise ValueError(f"unknown saga step {step}")

    async def _reserve(self, order: Order) -> Order:
        reservation = await self.catalog.reserve(
            order.order_id,
            order.member_id,
            order.lines,
            self.hold_ttl + RESERVATION_MARGIN_SECONDS,
            order.step_key(saga.RESERVE_STOCK),
        )
        priced = tuple(
            PricedLine(
                line.sku,
                line.title,
                line.type,
                line.quantity,
                line.unit_price_points,
                category=line.category,
            )
            for line in reservation.lines
        )
        items = sum(line.line_points for line in priced)
        # A prize was paid for by the lottery entry: nothing more to pay.
        total = 0 if order.kind is OrderKind.PRIZE else items + order.shipping_fee_points
        return dataclasses.replace(
            order,
            reservation_id=reservation.reservation_id,
            priced_lines=priced,
            items_points=items,
            total_points=total,
        )

    async def reserve_stock(self, order: Order) -> Order:
        return await self._reserve(order)

    def _hold_key(self, order: Order, amount: int) -> str:
        # The amount is part of the key: the first try (the whole total) may be refused for want
        # of points, and the second (the points the member has) is then a different request.
        return order.step_key(f"{saga.HOLD_POINTS}:{amount}")

    async def _hold(self, order: Order, amount: int) -> Order:
        held = await self.accounts.place_hold(
            order.member_id, amount, order.order_id, self.hold_ttl, self._hold_key(order, amount)
        )
        return dataclasses.replace(order, hold_id=held.hold.hold_id, points_paid=amount)

    async def hold_points(self, order: Order, checkpoint: Checkpoint) -> Order:
        if order.total_points == 0:
            return dataclasses.replace(order, points_paid=0)
        if order.points_paid is not None:  # the split was decided before a crash
            if order.points_paid == 0:
                return order
            return await self._hold(order, order.points_paid)
        try:
            return await self._hold(order, order.total_points)
        except FailedPrecondition as refused:
            if not is_short_of_points(refused):
                raise
            # What the member can put towards the total, then the split (points + card).
            available = max((await self.accounts.resolve(by_account(order.member_id))).available, 0)
        split = split_payment(
            order.total_points, available, self_pay_rules(self.spec), bool(order.payment_token)
        )
        order = dataclasses.replace(order, points_paid=split.points, yen_paid=split.yen)
        await checkpoint(order)  # the split survives a crash, so a re-run holds the same amount
        if split.points == 0:
            return order
        return await self._hold(order, split.points)

    # -- undo (before the pivot) -------------------------------------------------------------

    async def undo(self, step: str, order: Order, in_doubt: bool) -> Order:
        """Undo `step`. `in_doubt`: the step may have acted without us hearing of it, so its
        outcome is first fetched by running it again with the same key."""
        name = saga.UNDO[step]
        reason = f"order {order.order_id} failed"
        if step == saga.RESERVE_STOCK:
            if in_doubt and not order.reservation_id:
                order = await self._recall(order, self._reserve(order))
            if order.reservation_id:
                await self._settled_ok(
                    self.catalog.release(order.reservation_id, reason, order.step_key(name))
                )
            return order
        if step == saga.HOLD_POINTS:
            if in_doubt and not order.hold_id:
                amount = order.total_points if order.points_paid is None else order.points_paid
                if amount:
                    order = await self._recall(order, self._hold(order, amount))
            if order.hold_id:
                await self._settled_ok(
                    self.accounts.release_hold(order.hold_id, reason, order.step_key(name))
                )
            return order
        if step == saga.AUTHORISE_PAYMENT:
            await self.gateway.void(order.payment_reference)  # found by reference, if any
            return order
        if step == saga.CAPTURE_POINTS:
            if in_doubt and not order.capture_tx_id and order.hold_id:
                order = await self._recall(order, self.forward(step, order, _no_checkpoint))
            if order.capture_tx_id:
                await self.accounts.reverse(
                    order.capture_tx_id, order_source(order.order_id), reason, order.step_key(name)
                )
            return order
        if step == saga.CAPTURE_PAYMENT:
            await self.gateway.refund(order.payment_reference)
            return order
        raise ValueError(f"step {step} cannot be undone")

    async def _recall(self, order: Order, again: Awaitable[Order]) -> Order:
        """Run a step again (same key) to learn what it did; a refusal means it did nothing."""
        try:
            return await again
        except TamaruError as error:
            if is_definite(error):
                return order
            raise

    async def _settled_ok(self, call: Awaitable[object]) -> None:
        try:
            await call
        except TamaruError as error:
            if error.reason not in _ALREADY_SETTLED:
                raise

    # -- cancellation ------------------------------------------------------------------------

    async def cancel(self, step: str, order: Order) -> Order:
        reason = f"order {order.order_id} cancelled"
        if step == saga.RETURN_STOCK:
            await self.catalog.return_stock(order.reservation_id, reason, order.step_key(step))
            return order
        if step == saga.RETURN_POINTS:
            source = order_source(order.order_id)
            if self.spec.redeem.cancel_policy == "restoreOriginalLots":
                # Reversing the capture gives back exactly the lots it spent, expiry and all.
                reversed_ = await self.accounts.reverse(
                    order.capture_tx_id, source, reason, order.step_key(step)
                )
                tx_id = reversed_.result.transaction_id
            else:
                credited = await self.accounts.credit(
                    order.member_id, order.points_paid or 0, source, reason, order.step_key(step)
                )
                tx_id = credited.result.transaction_id
            return dataclasses.replace(order, refund_tx_id=tx_id)
        if step == saga.REFUND_CARD:
            await self.gateway.refund(order.payment_reference)
            return order
        raise ValueError(f"unknown cancel step {step}")


async def _no_checkpoint(order: Order) -> None:
    return None
