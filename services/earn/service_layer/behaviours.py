"""Record behaviours (store visits, app logins, reviews, surveys) and list members' offers.

The frequency cap counts the member's earning events of the rule in the current period (day,
week from Monday, month, in the program's time zone); a transaction-scoped advisory lock on
(program, member, rule) makes two simultaneous check-ins count one after the other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument, TamaruError
from services.earn.adapters import repository
from services.earn.adapters.messages import (
    event_id,
    item_dict,
    offer_proto,
    result_proto,
    time_or_now,
)
from services.earn.adapters.orm import BehaviourRow
from services.earn.domain import calendar
from services.earn.domain.behaviours import evaluate_behaviour, find_rule
from services.earn.service_layer.announce import announce_behaviour
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchases import offer_definition, require_active, usable_offer
from tamaru.accounts.v1 import ledger_pb2, members_pb2
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p


async def record_behaviour(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, msg: p.Behaviour
) -> earn_pb2.RecordBehaviourResponse:
    event_id(msg.event_id, "behaviour.event_id")
    at = time_or_now(msg.occurred_at, msg.HasField("occurred_at"))
    accounts = deps.accounts(program_id, actor)
    try:
        rules = await deps.revisions.in_force(uow.session, program_id, at)
        rule = find_rule(rules.spec.earn.behaviour_rules, msg.behaviour, msg.rule_id)
        if msg.HasField("location") and not (
            -90 <= msg.location.latitude <= 90 and -180 <= msg.location.longitude <= 180
        ):
            raise InvalidArgument("location is not a latitude/longitude pair", field="location")
        member = await accounts.resolve(msg.member)
        require_active(member, "member")
    except TamaruError as exc:
        exc.field = f"behaviour.{exc.field}" if exc.field else "behaviour"
        raise
    account_id = member.account_id
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"earn-behaviour/{program_id}/{account_id}/{rule.id}"},
    )
    period = calendar.period_start(at, rules.spec.zone, rule.frequency.per)
    earned = int(
        await uow.session.scalar(
            select(func.count()).where(
                BehaviourRow.program_id == program_id,
                BehaviourRow.account_id == account_id,
                BehaviourRow.rule_id == rule.id,
                BehaviourRow.period_start == period,
                BehaviourRow.points > 0,
            )
        )
        or 0
    )
    used = await usable_offer(
        uow,
        program_id,
        rules,
        account_id,
        msg.offer_issue_id,
        at=at,
        behaviour=msg.behaviour,
        channel=msg.channel,
        lock=True,
    )
    # A capped event does not use up the offer: the member keeps it for one that earns.
    result = evaluate_behaviour(rule, earned, used[1] if used else None)
    tx_ids: list[str] = []
    for kind, points in result.by_kind().items():
        reply = await accounts.credit(
            f"earn:behaviour:{msg.event_id}:{kind}",
            account_id,
            points,
            kind=kind,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id=rule.id),
            reason=f"{msg.behaviour} {msg.event_id}",
            sponsor_funded=False,
        )
        tx_ids.append(reply.result.transaction_id)
    if used is not None and result.total > 0:
        used[0].used_at = datetime.now(UTC)
        used[0].used_by_event = msg.event_id
    row = BehaviourRow(
        program_id=program_id,
        event_id=msg.event_id,
        account_id=account_id,
        behaviour=msg.behaviour,
        rule_id=rule.id,
        store=msg.store,
        channel=msg.channel,
        latitude=msg.location.latitude if msg.HasField("location") else None,
        longitude=msg.location.longitude if msg.HasField("location") else None,
        occurred_at=at,
        period_start=period,
        points=result.total,
        breakdown=[item_dict(i) for i in result.items],
    )
    uow.session.add(row)
    offer_used = msg.offer_issue_id if used is not None and result.total > 0 else ""
    await announce_behaviour(uow, row, offer_used)
    await uow.session.flush()
    return earn_pb2.RecordBehaviourResponse(
        event_id=msg.event_id,
        account_id=account_id,
        result=result_proto(result, rules.generation, tx_ids),
    )


async def list_offers(
    uow: UnitOfWork,
    deps: EarnDeps,
    program_id: str,
    actor: str,
    selector: members_pb2.MemberSelector,
) -> earn_pb2.ListOffersResponse:
    member = await deps.accounts(program_id, actor).resolve(selector)
    spec = deps.programs.spec(program_id)
    rows = await repository.member_offers(
        uow.session, program_id, member.account_id, datetime.now(UTC)
    )
    out: list[p.IssuedOffer] = []
    for row in rows:
        offer = offer_definition(spec.earn.offers, row.offer_id)
        name, message, percent = (
            (offer.name, offer.message, offer.reward.multiplier_percent) if offer else ("", "", 0)
        )
        out.append(offer_proto(row, name, message, percent))
    return earn_pb2.ListOffersResponse(offers=out)
