"""Billing's durable consumer of accounts' events (inbox: each event takes effect once)."""

from __future__ import annotations

from runtime.messaging.consumer import EventConsumer
from runtime.service import ServiceContext
from services.billing.service_layer.events import AccountsEventApplier

DURABLE = "billing-accounts"
SUBJECTS = ["tamaru.evt.*.accounts.>"]


def accounts_consumer(ctx: ServiceContext) -> EventConsumer:
    return EventConsumer(
        ctx.js,
        ctx.uow,
        durable=DURABLE,
        subjects=SUBJECTS,
        handler=AccountsEventApplier(ctx.programs),
    )
