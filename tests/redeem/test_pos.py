"""Points at the point of sale: an immediate, idempotent debit, reversed on a voided sale."""

from __future__ import annotations

import grpc

from runtime.auth import Role
from tamaru.accounts.v1 import members_pb2
from tamaru.redeem.v1 import redeem_pb2
from tests.redeem.shop import Shop, key, rpc_error


def use(
    member: str, points: int, sale_id: str, idempotency_key: str = ""
) -> redeem_pb2.UsePointsAtPosRequest:
    return redeem_pb2.UsePointsAtPosRequest(
        idempotency_key=idempotency_key or key(),
        member=members_pb2.MemberSelector(account_id=member),
        points=points,
        sale_id=sale_id,
        store_id="store-7",
    )


async def test_points_discount_is_debited_once_and_given_back_when_voided(shop: Shop) -> None:
    member = await shop.member(points=1000)
    first = await shop.redeem.UsePointsAtPos(
        use(member, 300, "sale-1"), metadata=shop.md(Role.BACKEND)
    )
    assert (first.available, first.discount.points) == (700, 300)
    # The POS re-sends after a timeout (even with a new key): still one discount per sale.
    again = await shop.redeem.UsePointsAtPos(
        use(member, 300, "sale-1"), metadata=shop.md(Role.BACKEND)
    )
    assert again.discount.discount_id == first.discount.discount_id
    assert (await shop.balance(member)).available == 700
    code, detail = await rpc_error(
        shop.redeem.UsePointsAtPos(use(member, 500, "sale-1"), metadata=shop.md(Role.BACKEND))
    )
    assert (code, detail.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "SALE_ALREADY_DISCOUNTED")

    void = redeem_pb2.VoidPosDiscountRequest(idempotency_key=key(), sale_id="sale-1")
    voided = await shop.redeem.VoidPosDiscount(void, metadata=shop.md(Role.BACKEND))
    assert voided.discount.voided
    assert voided.discount.void_transaction_id
    twice = await shop.redeem.VoidPosDiscount(void, metadata=shop.md(Role.BACKEND))
    assert twice.discount.void_transaction_id == voided.discount.void_transaction_id
    assert (await shop.balance(member)).available == 1000


async def test_pos_refusals_name_the_field(shop: Shop) -> None:
    member = await shop.member(points=100)
    cases = [
        (use(member, 0, "s"), grpc.StatusCode.INVALID_ARGUMENT, "points"),
        (use(member, 10, ""), grpc.StatusCode.INVALID_ARGUMENT, "sale_id"),
        (use(member, 101, "s2"), grpc.StatusCode.FAILED_PRECONDITION, "amount"),
    ]
    for request, status, field in cases:
        code, detail = await rpc_error(
            shop.redeem.UsePointsAtPos(request, metadata=shop.md(Role.BACKEND))
        )
        assert (code, detail.field) == (status, field)
    code, detail = await rpc_error(
        shop.redeem.VoidPosDiscount(
            redeem_pb2.VoidPosDiscountRequest(idempotency_key=key(), sale_id="nope"),
            metadata=shop.md(Role.BACKEND),
        )
    )
    assert (code, detail.reason) == (grpc.StatusCode.NOT_FOUND, "POS_DISCOUNT_NOT_FOUND")
    assert (await shop.balance(member)).available == 100
