"""Real-time offers: which purchases earn one, and which later event may use it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from runtime.programs.spec_earn import Offer
from services.earn.domain.purchases import Purchase


@dataclass(frozen=True)
class HeldOffer:
    """An offer issued to a member, not used yet."""

    offer_issue_id: str
    offer_id: str
    expires_at: datetime


def triggered_offers(offers: Sequence[Offer], purchase: Purchase) -> list[Offer]:
    return [
        o
        for o in offers
        if purchase.amount_yen >= o.trigger.min_purchase_yen
        and (not o.trigger.channels or purchase.channel in o.trigger.channels)
    ]


def offer_expiry(offer: Offer, issued_at: datetime) -> datetime:
    return issued_at + timedelta(days=offer.reward.valid_days)


def usable_for(offer: Offer, *, behaviour: str | None, channel: str) -> bool:
    """Whether an event may use the offer: a behaviour offer boosts that behaviour only, a
    purchase offer boosts purchases (in its channels)."""
    if offer.reward.behaviour is not None:
        return behaviour == offer.reward.behaviour
    if behaviour is not None:
        return False
    return not offer.reward.channels or channel in offer.reward.channels
