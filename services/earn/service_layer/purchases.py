"""Record, preview and return purchases.

Recording scores the purchase with the rules in force at its time (locking the capped rules'
counters), asks accounts to credit one lot per kind (a BatchCredit command whose entries carry
the keys `earn:purchase:<id>:<kind>`, the same for a single purchase and a batch),
stores the purchase with its breakdown and the credits, uses a redeemed offer and issues the
offers the purchase earns (announced as `offer_issued` through the outbox), and announces the
purchase itself (`purchase_recorded`; a return: `purchase_returned`). Everything runs in
the caller's idempotent transaction: a retry replays the stored response, and if the
transaction failed after accounts credited, the retry's credits replay on accounts' side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import FailedPrecondition, NotFound
from runtime.programs.spec_earn import Offer
from services.earn.adapters import repository
from services.earn.adapters.accounts import (
    AccountsClient,
    MemberInfo,
    by_account,
    credit_refusal,
)
from services.earn.adapters.messages import item_dict, offer_proto, purchase_from, result_proto
from services.earn.adapters.orm import OfferRow, ReturnRow
from services.earn.adapters.revisions import RulesInForce
from services.earn.domain import offers as offer_rules
from services.earn.domain.earn_rules import ActiveOffer, EarnResult, evaluate_purchase
from services.earn.domain.purchases import Purchase
from services.earn.domain.returns import ReturnedLine, plan_return
from services.earn.domain.usage_tally import UsageTally
from services.earn.service_layer.announce import announce_purchases, announce_return
from services.earn.service_layer.deps import EarnDeps
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.earn.v1 import earn_pb2, events_pb2
from tamaru.earn.v1 import purchases_pb2 as p


@dataclass(frozen=True)
class Scored:
    member: MemberInfo
    purchase: Purchase
    rules: RulesInForce
    result: EarnResult
    offer: OfferRow | None


def require_active(member: MemberInfo, field: str) -> None:
    if not member.active:
        raise FailedPrecondition(
            "the member's account is not active (suspended, closed or merged)",
            reason="MEMBER_NOT_ACTIVE",
            field=field,
        )


def offer_definition(offers: tuple[Offer, ...] | list[Offer], offer_id: str) -> Offer | None:
    return next((o for o in offers if o.id == offer_id), None)


async def usable_offer(
    uow: UnitOfWork,
    program_id: str,
    rules: RulesInForce,
    account_id: str,
    offer_issue_id: str,
    *,
    at: datetime,
    behaviour: str | None,
    channel: str,
    lock: bool,
) -> tuple[OfferRow, ActiveOffer] | None:
    """The member's offer an event asks to use, checked: theirs, unused, unexpired, fitting."""
    if not offer_issue_id:
        return None
    row = await repository.held_offer(
        uow.session, program_id, account_id, offer_issue_id, lock=lock
    )
    field = "offer_issue_id"
    if row is None:
        raise NotFound("the member holds no such offer", reason="OFFER_NOT_FOUND", field=field)
    if row.used_at is not None:
        raise FailedPrecondition(
            f"the offer was already used by {row.used_by_event}", reason="OFFER_USED", field=field
        )
    if at >= row.expires_at:
        raise FailedPrecondition("the offer has expired", reason="OFFER_EXPIRED", field=field)
    offer = offer_definition(rules.spec.earn.offers, row.offer_id)
    if offer is None:
        raise FailedPrecondition(
            "the program no longer has this offer", reason="OFFER_WITHDRAWN", field=field
        )
    if not offer_rules.usable_for(offer, behaviour=behaviour, channel=channel):
        raise FailedPrecondition(
            "the offer does not apply to this event", reason="OFFER_NOT_APPLICABLE", field=field
        )
    return row, ActiveOffer(offer.id, offer.name, offer.reward.multiplier_percent)


async def score(
    uow: UnitOfWork,
    deps: EarnDeps,
    accounts: AccountsClient,
    program_id: str,
    msg: p.Purchase,
    *,
    lock: bool,
    member: MemberInfo | None = None,
    rules: RulesInForce | None = None,
    tally: UsageTally | None = None,
) -> Scored:
    """Everything recording and previewing share, so a preview quotes what a record earns.
    A chunk passes what it looked up for all its purchases at once: the member, the rules in
    force and the capped rules' counters (locked)."""
    facts = purchase_from(msg)  # validates before anything is looked up
    if member is None:
        member = await accounts.resolve(msg.member)
    require_active(member, "purchase.member")
    purchase = purchase_from(msg, tier_id=member.tier_id)
    if rules is None:
        rules = await deps.revisions.in_force(uow.session, program_id, facts.occurred_at)
    capped = capped_rules(rules)
    if tally is None:
        tally = await repository.usage_tally(
            uow.session, program_id, [member.account_id], capped, lock=lock
        )
    usage = tally.usage(member.account_id, capped)
    used = await usable_offer(
        uow,
        program_id,
        rules,
        member.account_id,
        msg.offer_issue_id,
        at=purchase.occurred_at,
        behaviour=None,
        channel=purchase.channel,
        lock=lock,
    )
    result = evaluate_purchase(
        purchase,
        rules.spec.earn,
        zone=rules.spec.zone,
        tiers=tuple(rules.spec.tiers.levels),
        usage=usage,
        offer=used[1] if used else None,
    )
    return Scored(member, purchase, rules, result, used[0] if used else None)


async def preview_purchase(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, msg: p.Purchase
) -> earn_pb2.PreviewPurchaseResponse:
    scored = await score(uow, deps, deps.accounts(program_id, actor), program_id, msg, lock=False)
    return earn_pb2.PreviewPurchaseResponse(
        result=result_proto(scored.result, scored.rules.generation)
    )


async def record_purchase(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, msg: p.Purchase
) -> earn_pb2.RecordPurchaseResponse:
    accounts = deps.accounts(program_id, actor)
    scored = await score(uow, deps, accounts, program_id, msg, lock=True)
    await consume_caps(uow, program_id, scored)
    entries = credit_entries(msg, scored)
    results = list((await accounts.batch_credit(entries)).results) if entries else []
    for result in results:
        if result.HasField("error"):
            raise credit_refusal(result)
    return await store_purchase(uow, program_id, msg, scored, credits_of(entries, results))


def capped_rules(rules: RulesInForce) -> list[str]:
    """The rules with a per-member cap or a budget: only these keep counters."""
    return [r.id for r in rules.spec.earn.rules if r.cap_per_member or r.budget_points]


def capped_given(scored: Scored, sign: int = 1) -> dict[str, int]:
    """What the purchase's capped rules gave, by rule (sign -1: to take it back)."""
    capped = set(capped_rules(scored.rules))
    return {k: sign * v for k, v in scored.result.by_rule().items() if k in capped}


async def consume_caps(uow: UnitOfWork, program_id: str, scored: Scored) -> None:
    """Count what capped rules gave a purchase recorded alone; the counters were locked by
    `score`. (A chunk counts its purchases in its tally and writes them once.)"""
    tally = UsageTally()
    tally.add(scored.member.account_id, capped_given(scored))
    await repository.save_usage_tally(uow.session, program_id, tally)


def credit_entries(msg: p.Purchase, scored: Scored) -> list[accounts_pb2.BatchCreditEntry]:
    """One credit per lot kind, each under `earn:purchase:<id>:<kind>` (the single and the
    batch paths send the same entries, so either one's retry replays the other's credits)."""
    items = scored.result.items
    rule_refs = ",".join(i.ref for i in items if i.source != "base" and i.points)
    return [
        accounts_pb2.BatchCreditEntry(
            member=by_account(scored.member.account_id),
            amount=points,
            kind=kind,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id=msg.purchase_id),
            reason=f"purchase {msg.purchase_id}" + (f" ({rule_refs})" if rule_refs else ""),
            sponsor_funded=False,
            idempotency_key=f"earn:purchase:{msg.purchase_id}:{kind}",
        )
        for kind, points in scored.result.by_kind().items()
    ]


def credits_of(
    entries: list[accounts_pb2.BatchCreditEntry],
    results: list[accounts_pb2.BatchCreditEntryResult],
) -> dict[str, dict[str, object]]:
    return {
        entry.kind: {"transaction_id": result.result.transaction_id, "points": entry.amount}
        for entry, result in zip(entries, results, strict=True)
    }


async def store_purchase(
    uow: UnitOfWork,
    program_id: str,
    msg: p.Purchase,
    scored: Scored,
    credits: dict[str, dict[str, object]],
    *,
    recorded: list[tuple[repository.NewPurchase, EarnResult, int]] | None = None,
) -> earn_pb2.RecordPurchaseResponse:
    """The credited purchase: its row, its announcement, the offer it used and those it earns.
    A batch passes `recorded` to store and announce its purchases together
    (`repository.insert_purchases`, `announce_purchases`)."""
    account_id, purchase = scored.member.account_id, scored.purchase
    row = repository.NewPurchase(
        program_id=program_id,
        purchase_id=msg.purchase_id,
        account_id=account_id,
        channel=purchase.channel,
        store=purchase.store,
        amount_yen=purchase.amount_yen,
        lines=[
            {"sku": x.sku, "category": x.category, "amount_yen": x.amount_yen}
            for x in purchase.lines
        ],
        occurred_at=purchase.occurred_at,
        points_earned=scored.result.total,
        breakdown=[item_dict(i) for i in scored.result.items],
        credits=credits,
        rules_generation=scored.rules.generation,
        offer_issue_id=msg.offer_issue_id,
    )
    announcement = (row, scored.result, scored.rules.generation)
    if recorded is None:
        await repository.insert_purchases(uow.session, program_id, [row])
        await announce_purchases(uow, program_id, [announcement])
    else:
        recorded.append(announcement)
    if scored.offer is not None:
        scored.offer.used_at = datetime.now(UTC)
        scored.offer.used_by_event = msg.purchase_id
    issued = await issue_offers(uow, program_id, account_id, msg.purchase_id, scored)
    return earn_pb2.RecordPurchaseResponse(
        purchase_id=msg.purchase_id,
        account_id=account_id,
        result=result_proto(
            scored.result,
            scored.rules.generation,
            [str(c["transaction_id"]) for c in credits.values()],
        ),
        offers_issued=issued,
    )


async def issue_offers(
    uow: UnitOfWork, program_id: str, account_id: str, trigger: str, scored: Scored
) -> list[p.IssuedOffer]:
    """Offers the purchase earns: stored for the member and announced for the push channel
    (the outbox publishes `offer_issued` right after commit)."""
    issued: list[p.IssuedOffer] = []
    now = datetime.now(UTC)
    for offer in offer_rules.triggered_offers(scored.rules.spec.earn.offers, scored.purchase):
        row = OfferRow(
            offer_issue_id=new_id(),
            program_id=program_id,
            account_id=account_id,
            offer_id=offer.id,
            trigger_event=trigger,
            issued_at=now,
            expires_at=offer_rules.offer_expiry(offer, now),
            used_at=None,
            used_by_event="",
        )
        uow.session.add(row)
        proto = offer_proto(row, offer.name, offer.message, offer.reward.multiplier_percent)
        issued.append(proto)
        await uow.emit(
            program_id,
            "offer_issued",
            events_pb2.OfferIssued(program_id=program_id, offer=proto),
            aggregate_id=account_id,
        )
    return issued


async def record_return(
    uow: UnitOfWork,
    deps: EarnDeps,
    program_id: str,
    actor: str,
    request: earn_pb2.RecordReturnRequest,
) -> earn_pb2.RecordReturnResponse:
    row = await repository.purchase_for_update(uow.session, program_id, request.purchase_id)
    if row is None:
        raise NotFound(
            f"no purchase {request.purchase_id!r} was recorded",
            reason="PURCHASE_NOT_FOUND",
            field="purchase_id",
        )
    credits = {kind: c for kind, c in row.credits.items()}
    plan = plan_return(
        amount_yen=row.amount_yen,
        line_amounts=[line["amount_yen"] for line in row.lines],
        returned_before=row.returned_by_line,
        returned_yen_before=row.returned_yen,
        credited_by_kind={kind: int(c["points"]) for kind, c in credits.items()},
        lines=[ReturnedLine(x.line, x.amount_yen) for x in request.lines],
        full=request.full,
        amount_without_lines=request.amount_yen,
    )
    accounts = deps.accounts(program_id, actor)
    reversed_points = clawed = shortfall = 0
    for kind, points in plan.reverse_by_kind.items():
        reply = await accounts.reverse(
            f"earn:return:{request.return_id}:{kind}",
            str(credits[kind]["transaction_id"]),
            points,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id=row.purchase_id),
            reason=f"return {request.return_id} of purchase {row.purchase_id}",
        )
        reversed_points += points
        clawed += reply.result.clawed_back
        shortfall += reply.result.shortfall
    returned_before = row.returned_yen
    returned_now = plan.returned_yen - returned_before
    row.returned_by_line = list(plan.returned_by_line)
    row.returned_yen = plan.returned_yen
    row.points_reversed += reversed_points
    occurred = (
        request.occurred_at.ToDatetime(tzinfo=UTC)
        if request.HasField("occurred_at")
        else datetime.now(UTC)
    )
    returned = ReturnRow(
        program_id=program_id,
        return_id=request.return_id,
        purchase_id=row.purchase_id,
        returned_yen=returned_now,
        points_reversed=reversed_points,
        clawed_back=clawed,
        shortfall=shortfall,
        occurred_at=occurred,
    )
    uow.session.add(returned)
    await announce_return(uow, row, returned, returned_before=returned_before)
    await uow.session.flush()
    return earn_pb2.RecordReturnResponse(
        return_id=request.return_id,
        points_reversed=reversed_points,
        clawed_back=clawed,
        shortfall=shortfall,
        returned_yen=returned_now,
    )
