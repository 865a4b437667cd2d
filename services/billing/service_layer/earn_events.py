"""Applies earn's purchase events to billing's campaign tables (CompareCampaigns).

Runs inside the consumer's transaction after the inbox claimed the event. Purchases and
returns are rows keyed by the client's purchase / return id (a second copy inserts nothing)
and are only summed when a comparison is asked for, so a return that arrives before its
purchase, or events in any order, give the same figures.
"""

from __future__ import annotations

from datetime import UTC

from services.billing.adapters.campaign_repository import CampaignRepository
from services.billing.domain.campaigns import rule_points
from services.billing.service_layer.events import EventContext, Handlers
from tamaru.earn.v1 import events_pb2
from tamaru.earn.v1.purchases_pb2 import BreakdownItem


def _campaigns(ev: EventContext) -> CampaignRepository:
    return CampaignRepository(ev.repo.session, ev.repo.program_id)


def _by_rule(items: list[BreakdownItem]) -> dict[str, int]:
    return rule_points((i.source, i.ref, i.points) for i in items)


async def purchase_recorded(ev: EventContext, msg: events_pb2.PurchaseRecorded) -> None:
    occurred = msg.occurred_at.ToDatetime(tzinfo=UTC) if msg.HasField("occurred_at") else ev.at
    await _campaigns(ev).add_purchase(
        purchase_id=msg.purchase_id,
        account_id=msg.account_id,
        occurred_at=occurred,
        amount_yen=msg.amount_yen,
        points_earned=msg.points_earned,
        rule_points=_by_rule(list(msg.breakdown)),
    )


async def purchase_returned(ev: EventContext, msg: events_pb2.PurchaseReturned) -> None:
    await _campaigns(ev).add_return(
        return_id=msg.return_id,
        purchase_id=msg.purchase_id,
        account_id=msg.account_id,
        occurred_at=ev.at,
        returned_yen=msg.returned_yen,
        points_reversed=msg.points_reversed,
        rule_points_reversed=_by_rule(list(msg.reversed_breakdown)),
    )


# behaviour_recorded is not listed: campaigns are earn rules on purchases, and behaviour
# points reach billing's usage report through accounts' points_credited already.
EARN_HANDLERS: Handlers = {
    "purchase_recorded": (events_pb2.PurchaseRecorded, purchase_recorded),  # type: ignore[dict-item]
    "purchase_returned": (events_pb2.PurchaseReturned, purchase_returned),  # type: ignore[dict-item]
}
