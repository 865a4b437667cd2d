"""What members redeemed, learnt from redeem's `order_confirmed` events (for recommendations).

Redeem used to call RecordRedemption after confirming an order, while the member waited for
the reply, and a failed call lost the redemption for good. The confirmed order is announced
through redeem's outbox in the transaction that confirms it, so this durable consumer sees
every one, once (inbox), whenever catalog gets to it. The member's group and tier, which
recommendations count by, come from accounts when the event is applied; a member accounts no
longer knows is recorded without them. Accounts being away is a retry, not a loss.
"""

from __future__ import annotations

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition, NotFound
from runtime.messaging.consumer import EventConsumer
from runtime.service import ServiceContext
from services.catalog.domain.recommendations import validate_redemption
from services.catalog.service_layer import recommendations
from tamaru.accounts.v1 import commands_pb2 as accounts_commands
from tamaru.accounts.v1 import members_pb2
from tamaru.common.v1 import common_pb2
from tamaru.redeem.v1 import events_pb2 as redeem_events

DURABLE = "catalog-redemptions"
SUBJECTS = ["tamaru.evt.*.redeem.order_confirmed"]

Member = accounts_commands.LedgerCommandServiceResolveIdentifierResponse


def redemption_feed(ctx: ServiceContext) -> EventConsumer:
    async def apply(uow: UnitOfWork, envelope: common_pb2.EventEnvelope) -> None:
        order = redeem_events.OrderChanged.FromString(envelope.payload).order
        program_id = envelope.program_id
        ctx.programs.get(program_id)  # a program catalog does not know: rejected for good
        member = await _member(ctx, program_id, order.member_id)
        group = member.group_ids[0] if member.group_ids else ""
        for line in order.lines:
            cmd = validate_redemption(
                order.member_id, group, member.tier_id, line.sku, line.quantity
            )
            await recommendations.record_redemption(uow, program_id, cmd)

    return EventConsumer(ctx.js, ctx.uow, durable=DURABLE, subjects=SUBJECTS, handler=apply)


async def _member(ctx: ServiceContext, program_id: str, account_id: str) -> Member:
    try:
        return await ctx.commands.call(
            "accounts",
            "ResolveIdentifier",
            accounts_commands.LedgerCommandServiceResolveIdentifierRequest(
                member=members_pb2.MemberSelector(account_id=account_id)
            ),
            Member,
            program_id=program_id,
        )
    except (NotFound, FailedPrecondition):  # closed or gone since: still a redemption
        return Member(account_id=account_id)
