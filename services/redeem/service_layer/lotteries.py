"""Lotteries: create (with a published seed commitment), enter (points debited), draw.

Entering locks the lottery row while the entry cost is debited, so a member's entry limit holds
under concurrent entries; the debit's key is derived from the entry id (itself derived from the
caller's idempotency key), so a retry debits once. Drawing reveals the seed, picks winners by
the documented shuffle and stores a prize order per winner in the same transaction; the prize
orders then run their saga (stock reserved and committed, nothing to pay) here, or in the
recovery worker if this process dies first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition
from runtime.programs.spec import ProgramSpec
from services.redeem.adapters.lottery_repository import LotteryRepository
from services.redeem.adapters.messages import (
    entry_to_proto,
    lottery_to_proto,
    order_to_proto,
    winner_to_proto,
)
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.adapters.orm import LotteryEntryRow, LotteryRow
from services.redeem.adapters.remote import Accounts, order_source
from services.redeem.domain import lottery_draw
from services.redeem.domain.lotteries import (
    CreateLottery,
    check_draw,
    check_entry,
    prize_pairs,
    validate_lottery,
)
from services.redeem.domain.orders import Address, LineRequest, Order, OrderKind
from services.redeem.service_layer.place_order import PlaceOrder, new_order
from tamaru.redeem.v1 import events_pb2, lotteries_pb2

Now = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def require_enabled(spec: ProgramSpec) -> None:
    if not spec.lotteries.enabled:
        raise FailedPrecondition(
            "this program does not offer lotteries (lotteries.enabled is false)",
            reason="LOTTERIES_DISABLED",
        )


def derived_id(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


async def create_lottery(
    uow: UnitOfWork, program_id: str, key: str, cmd: CreateLottery
) -> lotteries_pb2.Lottery:
    validate_lottery(cmd)
    seed = lottery_draw.new_seed()
    row = LotteryRow(
        lottery_id=derived_id(program_id, "lottery", key),
        program_id=program_id,
        title=cmd.title,
        prizes=[{"sku": sku, "count": count} for sku, count in cmd.prizes],
        entry_cost_points=cmd.entry_cost_points,
        max_entries_per_member=cmd.max_entries_per_member,
        opens_at=cmd.opens_at,
        closes_at=cmd.closes_at,
        draw_at=cmd.draw_at,
        status="open",
        seed_commitment=lottery_draw.commitment(seed),
        seed=seed,
        created_at=utcnow(),
    )
    uow.session.add(row)
    await uow.session.flush()
    lottery = lottery_to_proto(row, 0)
    await uow.emit(
        program_id,
        "lottery_created",
        events_pb2.LotteryCreated(lottery=lottery),
        aggregate_id=row.lottery_id,
    )
    return lottery


async def enter_lottery(
    uow: UnitOfWork,
    accounts: Accounts,
    program_id: str,
    key: str,
    lottery_id: str,
    member_id: str,
    address: Address | None,
    now: datetime,
) -> tuple[LotteryEntryRow, int]:
    repo = LotteryRepository(uow.session, program_id)
    lottery = await repo.get(lottery_id, for_update=True)
    check_entry(
        status=lottery.status,
        opens_at=lottery.opens_at,
        closes_at=lottery.closes_at,
        max_entries=lottery.max_entries_per_member,
        member_entries=await repo.member_entries(lottery_id, member_id),
        now=now,
    )
    entry_id = derived_id(program_id, lottery_id, "entry", key)
    debit = await accounts.debit(
        member_id,
        lottery.entry_cost_points,
        order_source(f"lottery:{lottery_id}"),
        f"entry to lottery {lottery.title}",
        f"redeem:lottery-entry:{entry_id}",
    )
    entry = LotteryEntryRow(
        entry_id=entry_id,
        lottery_id=lottery_id,
        program_id=program_id,
        member_id=member_id,
        debit_tx_id=debit.result.transaction_id,
        address=asdict(address) if address else None,
        created_at=now,
        prize_sku="",
        prize_order_id="",
    )
    uow.session.add(entry)
    await uow.session.flush()
    await uow.emit(
        program_id,
        "lottery_entered",
        events_pb2.LotteryEntered(entry=entry_to_proto(entry), points=lottery.entry_cost_points),
        aggregate_id=lottery_id,
    )
    return entry, debit.available


async def draw_lottery(
    uow: UnitOfWork,
    program_id: str,
    lottery_id: str,
    now: datetime,
    owner: str,
    lease: timedelta,
) -> tuple[lotteries_pb2.Lottery, list[LotteryEntryRow], list[str]]:
    """Draw and store the prize orders, leased to `owner` (the caller runs them next; the
    recovery worker does if it dies first); returns the lottery, winners and order ids."""
    repo = LotteryRepository(uow.session, program_id)
    lottery = await repo.get(lottery_id, for_update=True)
    check_draw(status=lottery.status, draw_at=lottery.draw_at, now=now)
    entries = {row.entry_id: row for row in await repo.entries(lottery_id)}
    chosen = lottery_draw.winners(lottery.seed, list(entries), prize_pairs(lottery.prizes))
    orders = OrderRepository(uow.session)
    won: list[LotteryEntryRow] = []
    order_ids: list[str] = []
    for winner in chosen:
        entry = entries[winner.entry_id]
        order = prize_order(program_id, lottery_id, entry, winner.prize_sku)
        await orders.insert(order, "", owner, lease)
        entry.prize_sku = winner.prize_sku
        entry.prize_order_id = order.order_id
        entry.rank = winner.rank
        won.append(entry)
        order_ids.append(order.order_id)
        await uow.emit(
            program_id,
            "order_placed",
            events_pb2.OrderChanged(order=order_to_proto(order)),
            aggregate_id=order.order_id,
        )
    lottery.status = "drawn"
    lottery.drawn_at = now
    await uow.session.flush()
    proto = lottery_to_proto(lottery, len(entries))
    await uow.emit(
        program_id,
        "lottery_drawn",
        events_pb2.LotteryDrawn(lottery=proto, winners=[winner_to_proto(w) for w in won]),
        aggregate_id=lottery_id,
    )
    return proto, won, order_ids


def prize_order(program_id: str, lottery_id: str, entry: LotteryEntryRow, sku: str) -> Order:
    cmd = PlaceOrder(
        program_id=program_id,
        idempotency_key=f"lottery:{lottery_id}:{entry.entry_id}",
        member_id=entry.member_id,
        lines=(LineRequest(sku, 1),),
        address=Address(**entry.address) if entry.address else None,
        payment_token="",
        kind=OrderKind.PRIZE,
        lottery_id=lottery_id,
    )
    return new_order(cmd, derived_id(program_id, "prize", entry.entry_id), 0)
