"""Billing's durable consumers of accounts' and redeem's events (inbox: each event takes effect
once). Two durables, so a backlog of one service's events never delays the other's."""

from __future__ import annotations

from runtime.messaging.consumer import EventConsumer
from runtime.service import ServiceContext
from services.billing.service_layer.events import (
    HANDLERS,
    REDEEM_HANDLERS,
    EventApplier,
    Handlers,
)

DURABLE = "billing-accounts"
SUBJECTS = ["tamaru.evt.*.accounts.>"]
REDEEM_DURABLE = "billing-redeem"
REDEEM_SUBJECTS = ["tamaru.evt.*.redeem.>"]


def _consumer(
    ctx: ServiceContext, durable: str, subjects: list[str], handlers: Handlers
) -> EventConsumer:
    return EventConsumer(
        ctx.js,
        ctx.uow,
        durable=durable,
        subjects=subjects,
        handler=EventApplier(ctx.programs, handlers),
    )


def accounts_consumer(ctx: ServiceContext) -> EventConsumer:
    return _consumer(ctx, DURABLE, SUBJECTS, HANDLERS)


def redeem_consumer(ctx: ServiceContext) -> EventConsumer:
    return _consumer(ctx, REDEEM_DURABLE, REDEEM_SUBJECTS, REDEEM_HANDLERS)
