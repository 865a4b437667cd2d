"""The order saga's steps, in order, and which step undoes which.

Forward: reserve stock, hold points (deciding the points/card split), authorise the card,
capture points, capture the card, commit stock, issue e-gift codes. Committing stock is the
pivot: catalog cannot take committed units back, so from there on the saga only moves forward
(steps are retried until they succeed); before it, any definite failure undoes every step
already done, newest first.
"""

from __future__ import annotations

from services.redeem.domain.orders import Order, SagaPhase

RESERVE_STOCK = "reserve_stock"
HOLD_POINTS = "hold_points"
AUTHORISE_PAYMENT = "authorise_payment"
CAPTURE_POINTS = "capture_points"
CAPTURE_PAYMENT = "capture_payment"
COMMIT_STOCK = "commit_stock"
ISSUE_CODES = "issue_codes"

FORWARD_STEPS = (
    RESERVE_STOCK,
    HOLD_POINTS,
    AUTHORISE_PAYMENT,
    CAPTURE_POINTS,
    CAPTURE_PAYMENT,
    COMMIT_STOCK,
    ISSUE_CODES,
)
PIVOT = COMMIT_STOCK

# Compensation of each step before the pivot (names the fault plan and the step log use).
UNDO = {
    RESERVE_STOCK: "release_stock",
    HOLD_POINTS: "release_hold",
    AUTHORISE_PAYMENT: "void_payment",
    CAPTURE_POINTS: "reverse_points",
    CAPTURE_PAYMENT: "refund_payment",
}

# Cancelling a confirmed order: units back in stock, points back, card refunded.
RETURN_STOCK = "return_stock"
RETURN_POINTS = "return_points"
REFUND_CARD = "refund_card"
CANCEL_STEPS = (RETURN_STOCK, RETURN_POINTS, REFUND_CARD)

EGIFT_TYPE = 3  # tamaru.catalog.v1.ITEM_TYPE_EGIFT


def after_pivot(step: str) -> bool:
    return FORWARD_STEPS.index(step) >= FORWARD_STEPS.index(PIVOT)


def applies(step: str, order: Order) -> bool:
    """Whether a forward step has anything to do for this order (decided by earlier steps)."""
    if step in (AUTHORISE_PAYMENT, CAPTURE_PAYMENT):
        return order.yen_paid > 0
    if step == CAPTURE_POINTS:
        return bool(order.hold_id)
    if step == ISSUE_CODES:
        return any(line.item_type == EGIFT_TYPE for line in order.priced_lines)
    return True


def next_forward_step(order: Order) -> str | None:
    for step in FORWARD_STEPS:
        if step not in order.completed and applies(step, order):
            return step
    return None


def next_undo_step(order: Order) -> str | None:
    """The next step to undo: the one whose outcome is in doubt first (its effect may have
    happened without us hearing of it), then the completed ones, newest first."""
    candidates = ([order.in_doubt] if order.in_doubt else []) + list(reversed(order.completed))
    for step in candidates:
        if step in UNDO and step not in order.undone:
            return step
    return None


def next_cancel_step(order: Order) -> str | None:
    for step in CANCEL_STEPS:
        if step in order.completed:
            continue
        if step == REFUND_CARD and order.yen_paid == 0:
            continue
        if step == RETURN_POINTS and not order.capture_tx_id:
            continue
        if step == RETURN_STOCK and not order.reservation_id:
            continue
        return step
    return None


def is_running(order: Order) -> bool:
    return order.phase is not SagaPhase.DONE
