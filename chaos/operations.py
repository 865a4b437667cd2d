"""The operations clients perform: how each request is built, which RPC sends it, and what its
acknowledgement names (ledger transaction ids, other record ids) for the checker.

| kind     | RPC                               | moves points                                  |
|----------|-----------------------------------|-----------------------------------------------|
| grant    | accounts Credit (sponsor-funded)  | + member (billed to the sponsor)              |
| transfer | accounts Transfer                 | member -> member                              |
| debit    | accounts Debit (POS use)          | - member                                      |
| purchase | earn RecordPurchase               | + member (earned by the program's base rate)  |
| thanks   | earn SendThanks                   | sender -> receiver, or sponsor -> receiver    |
| pos      | redeem UsePointsAtPos             | - member                                      |
| order    | redeem PlaceOrder                 | - member (a saga: stock, hold, capture)       |
| cancel   | redeem CancelOrder                | + member (the order's points back)            |
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from chaos.client import Ack
from chaos.programs import ChaosProgram
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.catalog.v1 import items_pb2
from tamaru.earn.v1 import earn_pb2, purchases_pb2
from tamaru.redeem.v1 import orders_pb2, redeem_pb2


@dataclass
class ClientState:
    """What one client remembers between its requests: the orders it may cancel."""

    confirmed_orders: list[tuple[str, str]] = field(default_factory=list)  # (order id, member)


Built = tuple[Message, tuple[str, ...]]  # the request, the members whose points it moves
Build = Callable[[random.Random, ChaosProgram, ClientState, str], Built | None]


@dataclass(frozen=True)
class Kind:
    name: str
    service: str
    method: str
    build: Build
    ack: Ack


def member(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


def two_members(rng: random.Random, program: ChaosProgram) -> tuple[str, str]:
    first, second = rng.sample(program.members, 2)
    return first, second


def spend(rng: random.Random) -> int:
    """Mostly affordable; now and then far more than any member has, so the refusal path
    (a definite failure that must leave nothing) is exercised too."""
    return rng.randint(3000, 9000) if rng.random() < 0.1 else rng.randint(1, 60)


def now_stamp() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp


ADMIN_SOURCE = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN)


def grant(key: str, to: str, amount: int) -> Built:
    request = accounts_pb2.CreditRequest(
        idempotency_key=key,
        member=member(to),
        amount=amount,
        source=ADMIN_SOURCE,
        reason="bank test grant",
        sponsor_funded=True,
    )
    return request, (to,)


def build_grant(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    return grant(key, rng.choice(p.members), rng.randint(10, 150))


def build_transfer(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    sender, receiver = two_members(rng, p)
    request = accounts_pb2.TransferRequest(
        idempotency_key=key,
        from_member=member(sender),
        to_member=member(receiver),
        amount=spend(rng),
        source=ADMIN_SOURCE,
        reason="bank test transfer",
    )
    return request, (sender, receiver)


def build_debit(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    payer = rng.choice(p.members)
    request = accounts_pb2.DebitRequest(
        idempotency_key=key,
        member=member(payer),
        amount=spend(rng),
        source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id=f"pos-{key}"),
        reason="bank test POS use",
    )
    return request, (payer,)


def build_purchase(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    buyer = rng.choice(p.members)
    request = earn_pb2.RecordPurchaseRequest(
        purchase=purchases_pb2.Purchase(
            purchase_id=key,
            member=member(buyer),
            channel="store",
            store="s1",
            amount_yen=rng.randint(100, 6000),
            occurred_at=now_stamp(),  # fixed here, so every retry is the very same request
        )
    )
    return request, (buyer,)


def build_thanks(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    sender, receiver = two_members(rng, p)
    request = earn_pb2.SendThanksRequest(
        idempotency_key=key,
        sender=member(sender),
        receivers=[member(receiver)],
        points=rng.randint(1, 40),
        message="thanks!",
    )
    # Sponsor-funded thanks credit the receiver; the sender's balance is not touched.
    return request, (receiver,) if p.sponsor_thanks else (sender, receiver)


def build_pos(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built:
    payer = rng.choice(p.members)
    request = redeem_pb2.UsePointsAtPosRequest(
        idempotency_key=key,
        member=member(payer),
        points=spend(rng),
        sale_id=key,  # one sale per request: the discount is keyed by the sale
        store_id="s1",
    )
    return request, (payer,)


def build_order(rng: random.Random, p: ChaosProgram, _: ClientState, key: str) -> Built | None:
    if not p.skus:
        return None
    buyer = rng.choice(p.members)
    sku = rng.choice(sorted(p.skus))
    request = redeem_pb2.PlaceOrderRequest(
        idempotency_key=key,
        member=member(buyer),
        lines=[items_pb2.ItemLine(sku=sku, quantity=rng.randint(1, 2))],
    )
    return request, (buyer,)


def build_cancel(rng: random.Random, _: ChaosProgram, state: ClientState, key: str) -> Built | None:
    if not state.confirmed_orders:
        return None
    order_id, buyer = state.confirmed_orders.pop(rng.randrange(len(state.confirmed_orders)))
    request = redeem_pb2.CancelOrderRequest(
        idempotency_key=key, order_id=order_id, reason="bank test cancel"
    )
    return request, (buyer,)


def ack_credit(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (r.result.transaction_id,), ()


def ack_transfer(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (r.transaction_id,), ()


def ack_purchase(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(r.result.transaction_ids), (r.purchase_id,)


def ack_thanks(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (), tuple(t.thanks_id for t in r.thanks)


def ack_pos(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (r.discount.transaction_id,), (r.discount.discount_id,)


def ack_order(r: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (), (r.order.order_id, orders_pb2.OrderStatus.Name(r.order.status))


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("grant", "accounts", "Credit", build_grant, ack_credit),
        Kind("transfer", "accounts", "Transfer", build_transfer, ack_transfer),
        Kind("debit", "accounts", "Debit", build_debit, ack_credit),
        Kind("purchase", "earn", "RecordPurchase", build_purchase, ack_purchase),
        Kind("thanks", "earn", "SendThanks", build_thanks, ack_thanks),
        Kind("pos", "redeem", "UsePointsAtPos", build_pos, ack_pos),
        Kind("order", "redeem", "PlaceOrder", build_order, ack_order),
        Kind("cancel", "redeem", "CancelOrder", build_cancel, ack_order),
    )
}

# Relative frequencies; kinds whose service is not running are left out.
WEIGHTS = {
    "grant": 4,
    "transfer": 3,
    "debit": 3,
    "purchase": 2,
    "thanks": 2,
    "pos": 2,
    "order": 2,
    "cancel": 1,
}
