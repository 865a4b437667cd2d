"""Billing's three feeds: one durable consumer per producing service (accounts, redeem, earn),
so a backlog of one's events never delays another's; each with the handlers for its events."""

from __future__ import annotations

from dataclasses import dataclass

from services.billing.service_layer.earn_events import EARN_HANDLERS
from services.billing.service_layer.events import HANDLERS, REDEEM_HANDLERS, EventApplier


@dataclass(frozen=True)
class Feed:
    durable: str
    subjects: list[str]
    applier: EventApplier


ACCOUNTS = Feed("billing-accounts", ["tamaru.evt.*.accounts.>"], EventApplier(HANDLERS))
REDEEM = Feed("billing-redeem", ["tamaru.evt.*.redeem.>"], EventApplier(REDEEM_HANDLERS))
EARN = Feed(
    "billing-earn",
    ["tamaru.evt.*.earn.>"],
    EventApplier(EARN_HANDLERS, starts_billing=False),
)
FEEDS: dict[str, Feed] = {feed.durable: feed for feed in (ACCOUNTS, REDEEM, EARN)}
