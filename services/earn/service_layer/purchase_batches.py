"""A chunk of streamed purchases recorded in one earn transaction with two accounts commands.

Per purchase, RecordPurchase costs an earn transaction, a ResolveIdentifier, a lookup of the
rules in force, the capped rules' counters and a credit command. A chunk instead resolves
every member with one `ResolveIdentifiers`, reads the rules in force for every purchase's
time with one statement and locks every counter it needs with another, scores the purchases
one after another in stream order (each sees the caps the earlier ones consumed:
`domain/usage_tally.py`; a purchase that fails is refused alone), credits them all with one
`BatchCredit` (the same entries and keys RecordPurchase sends), then stores them and writes
the counters back with one statement. Each purchase
keeps its own idempotency record under RecordPurchase's scope and key (its purchase_id): a
purchase sent once through the stream and once through RecordPurchase is recorded once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import IdempotencyKeyReused, TamaruError
from runtime.idempotency import begin_many, finish_many, forget_many
from services.earn.adapters import repository
from services.earn.adapters.accounts import AccountsClient, MemberInfo, credit_refusal
from services.earn.adapters.messages import event_id, purchase_from
from services.earn.domain.earn_rules import EarnResult
from services.earn.domain.usage_tally import UsageTally
from services.earn.service_layer.announce import announce_purchases
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchases import (
    Scored,
    capped_given,
    capped_rules,
    credit_entries,
    credits_of,
    score,
    store_purchase,
)
from tamaru.accounts.v1 import members_pb2
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p

SCOPE = "earn.RecordPurchase"  # RecordPurchase's own (entrypoints/rpc_base.py: mutate)
Outcome = earn_pb2.RecordPurchaseResponse | TamaruError


async def record_purchases(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, msgs: Sequence[p.Purchase]
) -> list[Outcome]:
    """Each purchase's response (a replay for one recorded before) or its own error."""
    deps.programs.require_open(program_id)
    outcomes: list[Outcome | None] = [None] * len(msgs)
    first_of: dict[str, int] = {}  # a purchase_id sent twice in the chunk: the later replays
    for i, msg in enumerate(msgs):
        try:
            event_id(msg.purchase_id, "purchase.purchase_id")
        except TamaruError as exc:
            outcomes[i] = exc
            continue
        first_of.setdefault(msg.purchase_id, i)
    requests = {
        key: earn_pb2.RecordPurchaseRequest(purchase=msgs[i]) for key, i in first_of.items()
    }
    accounts = deps.accounts(program_id, actor)
    earlier, members = await _keys_and_members(
        uow, program_id, requests, accounts, {i: msgs[i].member for i in first_of.values()}
    )
    fresh: list[int] = []
    for key, i in first_of.items():
        prior = earlier[key]
        if isinstance(prior, TamaruError):
            prior.field = "purchase.purchase_id"
            outcomes[i] = prior
        elif isinstance(prior, bytes):
            outcomes[i] = earn_pb2.RecordPurchaseResponse.FromString(prior)
        else:
            fresh.append(i)
    await _record(uow, deps, accounts, program_id, msgs, fresh, members, outcomes)
    done = {
        msgs[i].purchase_id: o
        for i, o in enumerate(outcomes)
        if i in fresh and isinstance(o, earn_pb2.RecordPurchaseResponse)
    }
    await finish_many(uow.session, program_id, SCOPE, done)
    failed = [msgs[i].purchase_id for i in fresh if isinstance(outcomes[i], TamaruError)]
    await forget_many(uow.session, program_id, SCOPE, failed)
    for i, msg in enumerate(msgs):
        if outcomes[i] is None:  # a repeat within the chunk
            outcomes[i] = _repeat(outcomes[first_of[msg.purchase_id]], requests, msg)
    return [o for o in outcomes if o is not None]


def _repeat(
    first: Outcome | None, requests: dict[str, earn_pb2.RecordPurchaseRequest], msg: p.Purchase
) -> Outcome:
    if requests[msg.purchase_id].purchase != msg:
        return IdempotencyKeyReused(
            f"purchase_id {msg.purchase_id!r} came twice with different contents",
            field="purchase.purchase_id",
        )
    assert first is not None
    return first


async def _keys_and_members(
    uow: UnitOfWork,
    program_id: str,
    requests: dict[str, earn_pb2.RecordPurchaseRequest],
    accounts: AccountsClient,
    selectors: dict[int, members_pb2.MemberSelector],
) -> tuple[dict[str, bytes | IdempotencyKeyReused | None], dict[int, MemberInfo | TamaruError]]:
    """The purchases' idempotency records (this service's database) and their members
    (accounts, over NATS), asked at the same time: the chunk waits for one round trip
    instead of two. A replayed purchase's member is looked up for nothing, which is rare
    and harmless. Both finish before either's error propagates, so the session is idle
    when the transaction ends."""
    if not selectors:
        return await begin_many(uow.session, program_id, SCOPE, requests), {}
    earlier, members = await asyncio.gather(
        begin_many(uow.session, program_id, SCOPE, requests),
        accounts.resolve_many(list(selectors.values())),
        return_exceptions=True,
    )
    if isinstance(earlier, BaseException):
        raise earlier
    if isinstance(members, BaseException):
        raise members
    return earlier, dict(zip(selectors, members, strict=True))


async def _record(
    uow: UnitOfWork,
    deps: EarnDeps,
    accounts: AccountsClient,
    program_id: str,
    msgs: Sequence[p.Purchase],
    fresh: list[int],
    members: dict[int, MemberInfo | TamaruError],
    outcomes: list[Outcome | None],
) -> None:
    if not fresh:
        return
    found: dict[int, tuple[MemberInfo, datetime]] = {}
    for i in fresh:
        member = members[i]
        try:
            if isinstance(member, TamaruError):
                member.field = "purchase.member"
                raise member
            found[i] = (member, purchase_from(msgs[i]).occurred_at)
        except TamaruError as exc:
            outcomes[i] = exc
    scored, tally = await _score_all(uow, deps, accounts, program_id, msgs, found, outcomes)
    entries = {i: credit_entries(msgs[i], s) for i, s in scored.items()}
    flat = [e for i in scored for e in entries[i]]
    results = list((await accounts.batch_credit(flat)).results) if flat else []
    position = 0
    recorded: list[tuple[repository.NewPurchase, EarnResult, int]] = []
    for i, s in scored.items():
        mine = results[position : position + len(entries[i])]
        position += len(entries[i])
        refused = next((r for r in mine if r.HasField("error")), None)
        if refused is not None:  # e.g. the member was closed meanwhile
            tally.add(s.member.account_id, capped_given(s, -1))
            outcomes[i] = credit_refusal(refused)
            continue
        outcomes[i] = await store_purchase(
            uow, program_id, msgs[i], s, credits_of(entries[i], mine), recorded=recorded
        )
    await repository.save_usage_tally(uow.session, program_id, tally)
    await repository.insert_purchases(uow.session, program_id, [row for row, _, _ in recorded])
    await announce_purchases(uow, program_id, recorded)


async def _score_all(
    uow: UnitOfWork,
    deps: EarnDeps,
    accounts: AccountsClient,
    program_id: str,
    msgs: Sequence[p.Purchase],
    found: dict[int, tuple[MemberInfo, datetime]],
    outcomes: list[Outcome | None],
) -> tuple[dict[int, Scored], UsageTally]:
    """Score the found purchases in stream order. The rules in force and the capped rules'
    counters (locked) are read once for the chunk; each purchase sees the counters the ones
    before it left in the tally. No savepoint per purchase: scoring writes nothing but the
    counters' zero rows (harmless if a purchase is then refused), and a database error fails
    the whole chunk either way."""
    if not found:
        return {}, UsageTally()
    try:
        rules = await deps.revisions.in_force_many(
            uow.session, program_id, [at for _, at in found.values()]
        )
    except TamaruError as exc:  # the program has no rules on this service yet
        for i in found:
            outcomes[i] = exc
        return {}, UsageTally()
    capped = {rule_id for in_force in rules for rule_id in capped_rules(in_force)}
    account_ids = [member.account_id for member, _ in found.values()]
    tally = await repository.usage_tally(uow.session, program_id, account_ids, capped, lock=True)
    scored: dict[int, Scored] = {}
    for (i, (member, _)), in_force in zip(found.items(), rules, strict=True):
        try:
            one = await score(
                uow,
                deps,
                accounts,
                program_id,
                msgs[i],
                lock=True,
                member=member,
                rules=in_force,
                tally=tally,
            )
        except TamaruError as exc:
            outcomes[i] = exc
            continue
        tally.add(member.account_id, capped_given(one))
        scored[i] = one
    return scored, tally
