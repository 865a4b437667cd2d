"""Billing's durable consumers of accounts', redeem's and earn's events (inbox: each event takes
effect once). One durable per service, so a backlog of one's events never delays another's."""

from __future__ import annotations

from runtime.messaging.consumer import EventConsumer
from runtime.service import ServiceContext
from services.billing.service_layer.earn_events import EARN_HANDLERS
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
EARN_DURABLE = "billing-earn"
EARN_SUBJECTS = ["tamaru.evt.*.earn.>"]


def _consumer(
    ctx: ServiceContext,
    durable: str,
    subjects: list[str],
    handlers: Handlers,
    *,
    starts_billing: bool = True,
) -> EventConsumer:
    return EventConsumer(
        ctx.js,
        ctx.uow,
        durable=durable,
        subjects=subjects,
        handler=EventApplier(ctx.programs, handlers, starts_billing=starts_billing),
    )


def accounts_consumer(ctx: ServiceContext) -> EventConsumer:
    return _consumer(ctx, DURABLE, SUBJECTS, HANDLERS)


def redeem_consumer(ctx: ServiceContext) -> EventConsumer:
    return _consumer(ctx, REDEEM_DURABLE, REDEEM_SUBJECTS, REDEEM_HANDLERS)


def earn_consumer(ctx: ServiceContext) -> EventConsumer:
    return _consumer(ctx, EARN_DURABLE, EARN_SUBJECTS, EARN_HANDLERS, starts_billing=False)
