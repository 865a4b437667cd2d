"""Earn's facts for other services: `purchase_recorded`, `purchase_returned` and
`behaviour_recorded`, written to the outbox in the transaction that stores the row.

Each is emitted only by the first, committed recording of its client id: a retry with the same
purchase / return / event id replays the stored response (run_idempotent) and runs none of
this, so the event rides the first commit only. Billing builds campaign comparisons on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.db.unit_of_work import UnitOfWork
from services.earn.adapters.messages import breakdown_proto, stamp
from services.earn.adapters.orm import BehaviourRow, PurchaseRow, ReturnRow
from services.earn.adapters.repository import NewPurchase
from services.earn.domain.earn_rules import EarnResult
from services.earn.domain.returns import reversed_share
from tamaru.earn.v1 import events_pb2
from tamaru.earn.v1 import purchases_pb2 as p


def purchase_recorded(
    row: NewPurchase, result: EarnResult, generation: int
) -> events_pb2.PurchaseRecorded:
    return events_pb2.PurchaseRecorded(
        program_id=row.program_id,
        purchase_id=row.purchase_id,
        account_id=row.account_id,
        channel=row.channel,
        store=row.store,
        amount_yen=row.amount_yen,
        lines=[p.PurchaseLine(**line) for line in row.lines],
        occurred_at=stamp(row.occurred_at),
        points_earned=row.points_earned,
        breakdown=breakdown_proto(row.breakdown),
        by_kind=[p.KindPoints(kind=k, points=v) for k, v in result.by_kind().items()],
        rules_generation=generation,
        offer_issue_id=row.offer_issue_id,
    )


async def announce_purchases(
    uow: UnitOfWork, program_id: str, recorded: Sequence[tuple[NewPurchase, EarnResult, int]]
) -> None:
    """`purchase_recorded` for each (row, result, rules generation), one INSERT for all."""
    await uow.emit_many(
        program_id,
        "purchase_recorded",
        [(purchase_recorded(row, result, gen), row.account_id) for row, result, gen in recorded],
        occurred_at_each=[row.occurred_at for row, _, _ in recorded],
    )


def reversed_breakdown(
    purchase: PurchaseRow, *, returned_before: int, returned_now: int
) -> list[dict[str, Any]]:
    """The purchase's breakdown items' shares of this return (items with none left out)."""
    out: list[dict[str, Any]] = []
    for item in purchase.breakdown:
        share = reversed_share(
            int(item["points"]),
            amount_yen=purchase.amount_yen,
            returned_before=returned_before,
            returned_now=returned_now,
        )
        if share:
            out.append({**item, "points": share})
    return out


async def announce_return(
    uow: UnitOfWork, purchase: PurchaseRow, row: ReturnRow, *, returned_before: int
) -> None:
    event = events_pb2.PurchaseReturned(
        program_id=row.program_id,
        return_id=row.return_id,
        purchase_id=row.purchase_id,
        account_id=purchase.account_id,
        returned_yen=row.returned_yen,
        points_reversed=row.points_reversed,
        clawed_back=row.clawed_back,
        shortfall=row.shortfall,
        occurred_at=stamp(row.occurred_at),
        reversed_breakdown=breakdown_proto(
            reversed_breakdown(
                purchase, returned_before=returned_before, returned_now=row.returned_yen
            )
        ),
        purchase_occurred_at=stamp(purchase.occurred_at),
        purchase_amount_yen=purchase.amount_yen,
    )
    await uow.emit(
        row.program_id,
        "purchase_returned",
        event,
        aggregate_id=purchase.account_id,
        occurred_at=row.occurred_at,
    )


async def announce_behaviour(uow: UnitOfWork, row: BehaviourRow, offer_issue_id: str) -> None:
    event = events_pb2.BehaviourRecorded(
        program_id=row.program_id,
        event_id=row.event_id,
        account_id=row.account_id,
        behaviour=row.behaviour,
        rule_id=row.rule_id,
        store=row.store,
        channel=row.channel,
        occurred_at=stamp(row.occurred_at),
        points=row.points,
        breakdown=breakdown_proto(row.breakdown),
        offer_issue_id=offer_issue_id,
    )
    await uow.emit(
        row.program_id,
        "behaviour_recorded",
        event,
        aggregate_id=row.account_id,
        occurred_at=row.occurred_at,
    )
