"""Billing's durable consumers of accounts' and redeem's events (inbox: each event takes effect
once). Two durables, so a backlog of one service's events never delays the other's."""

from __future__ import annotations

from runtime.messaging.consumer import EventConsumer
from runtime.service import ServiceContext
from services.billing.service_layer.events import HANDLERS, REDEEM_HANDLERS, EventApplier

DURABLE = "billing-accounts"
SUBJECTS = ["tamaru.evt.*.accounts.>"]
REDEEM_DURABLE = "billing-redeem"
REDEEM_SUBJECTS = ["tamaru.evt.*.redeem.>"]


def accounts_consumer(ctx: ServiceContext) -> EventConsumer:
    return EventConsumer(
        ctx.js,
        ctx.uow,
        durable=DURABLE,
        subjects=SUBJECTS,
        handler=EventApplier(ctx.programs, HANDLERS),
    )


def redeem_consumer(ctx: ServiceContext) -> EventConsumer:
    return EventConsumer(
        ctx.js,
        ctx.uow,
        durable=REDEEM_DURABLE,
        subjects=REDEEM_SUBJECTS,
        handler=EventApplier(ctx.programs, REDEEM_HANDLERS),
    )
