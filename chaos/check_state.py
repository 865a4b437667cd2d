"""Checks of the final state: the ledger's books, balances, sagas, holds, billing, events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import grpc
from nats.js import JetStreamContext

from chaos.check_requests import TERMINAL, LedgerIndex
from chaos.history import Op, Outcome
from chaos.ledger_reads import LedgerReads, LedgerTx, OrderRow
from chaos.programs import ChaosProgram
from chaos.stream_reads import StreamContents, durable_consumers, subject_matches
from chaos.verdict import Property
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, members_pb2
from tamaru.billing.v1 import billing_pb2, billing_pb2_grpc

# A hold or reservation past its time is released by the next sweep (every 5 s in accounts
# and catalog); allow two sweeps before calling it outlived.
SWEEP_SLACK = timedelta(seconds=12)


async def conservation(channel: grpc.aio.Channel, programs: Sequence[ChaosProgram]) -> Property:
    """accounts Verify per program: journal sums to zero, lots and cached balances agree, and
    issued == member balances + held + redeemed + expired + adjustments."""
    prop = Property("conservation (accounts Verify)")
    stub = accounts_pb2_grpc.AccountsServiceStub(channel)
    notes = []
    for p in programs:
        v = await stub.Verify(accounts_pb2.VerifyRequest(), metadata=p.metadata(), timeout=60)
        books = v.member_balances + v.held + v.redeemed + v.expired + v.adjustments
        prop.expect(v.consistent, f"{p.program_id}: {list(v.problems)[:5]}")
        prop.expect(
            v.issued == books,
            f"{p.program_id}: issued {v.issued} != balances {v.member_balances} + held "
            f"{v.held} + redeemed {v.redeemed} + expired {v.expired} + adjustments "
            f"{v.adjustments}",
        )
        notes.append(
            f"{p.program_id}: issued {v.issued} = balances {v.member_balances} + held {v.held}"
            f" + redeemed {v.redeemed} + expired {v.expired}"
        )
    prop.note = "; ".join(notes)
    return prop


async def balances(channel: grpc.aio.Channel, programs: Sequence[ChaosProgram]) -> Property:
    """No program here allows a negative balance (no clawbacks to allow it for)."""
    prop = Property("no negative balance")
    stub = accounts_pb2_grpc.AccountsServiceStub(channel)
    for p in programs:
        for account_id in p.members:
            reply = await stub.GetBalance(
                accounts_pb2.GetBalanceRequest(
                    member=members_pb2.MemberSelector(account_id=account_id)
                ),
                metadata=p.metadata(),
                timeout=30,
            )
            b = reply.balance
            prop.expect(
                b.available >= 0 and b.held >= 0 and b.deficit == 0,
                f"{p.program_id}/{account_id}: available {b.available}, held {b.held}, "
                f"deficit {b.deficit}",
            )
    return prop


def sagas(
    orders: Mapping[str, list[OrderRow]],
    ledgers: Mapping[str, LedgerIndex],
    effects: Mapping[str, Mapping[str, int]],
    open_holds: Mapping[str, list[tuple[str, str, datetime]]],
    open_reservations: Mapping[str, list[tuple[str, str, datetime]]],
) -> Property:
    """Every order ended confirmed (its points spent once) or compensated (its points moves
    cancel out), with no hold or stock reservation left open behind it."""
    prop = Property("saga ended confirmed or compensated")
    for program_id, rows in orders.items():
        held_for = {source for _, source, _ in open_holds.get(program_id, [])}
        reserved_for = {order for _, order, _ in open_reservations.get(program_id, [])}
        for row in rows:
            name = f"order {row.order_id} ({program_id}, {row.status})"
            txs = ledgers[program_id].by_source.get(("order", row.order_id), [])
            moved = sum(effects[program_id].get(t.tx_id, 0) for t in txs)
            spent = row.status in ("confirmed", "shipped", "delivered")
            expected = -row.points_paid if spent else 0
            prop.expect(row.status in TERMINAL, f"{name}: not terminal")
            prop.expect(
                moved == expected,
                f"{name}: ledger moved {moved} member points, expected {expected} "
                f"({[(t.type, t.amount) for t in txs]})",
            )
            prop.expect(row.order_id not in held_for, f"{name}: a hold is still open")
            prop.expect(row.order_id not in reserved_for, f"{name}: stock still reserved")
    return prop


def time_limits(
    open_holds: Mapping[str, list[tuple[str, str, datetime]]],
    open_reservations: Mapping[str, list[tuple[str, str, datetime]]],
    now: datetime,
) -> Property:
    prop = Property("no hold or reservation outlived its TTL")
    open_count = 0
    for what, table in (("hold", open_holds), ("reservation", open_reservations)):
        for program_id, rows in table.items():
            for row_id, owner, expires_at in rows:
                open_count += 1
                prop.expect(
                    expires_at + SWEEP_SLACK > now,
                    f"{what} {row_id} of {owner} ({program_id}) expired at {expires_at:%T}, "
                    f"still open at {now:%T}",
                )
    prop.note = f"{open_count} still open within their TTL"
    return prop


async def billing(
    channel: grpc.aio.Channel,
    programs: Sequence[ChaosProgram],
    ledgers: Mapping[str, list[LedgerTx]],
    ops: Sequence[Op],
) -> Property:
    """billing Reconcile agrees with the stream, billed points equal the ledger's
    sponsor-funded credits, and those equal the acknowledged sponsor-funded requests."""
    prop = Property("billing charges = ledger sponsor-funded credits")
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    notes = []
    for p in programs:
        reply = await stub.Reconcile(
            billing_pb2.ReconcileRequest(), metadata=p.metadata(), timeout=60
        )
        billed = sum(period.billed_points for period in reply.periods)
        ledger = sum(
            t.amount for t in ledgers[p.program_id] if t.type == "credit" and t.sponsor_funded
        )
        asked = sum(_sponsor_points(op, p) for op in ops if op.program_id == p.program_id)
        prop.expect(reply.consistent, f"{p.program_id}: Reconcile not consistent {reply}")
        prop.expect(billed == ledger, f"{p.program_id}: billed {billed}, ledger {ledger}")
        prop.expect(ledger == asked, f"{p.program_id}: ledger {ledger}, acknowledged {asked}")
        notes.append(f"{p.program_id}: {billed} points billed")
    prop.note = "; ".join(notes)
    return prop


def _sponsor_points(op: Op, program: ChaosProgram) -> int:
    if op.outcome is not Outcome.OK:
        return 0
    if op.kind == "grant":
        return int(getattr(op.request, "amount"))  # noqa: B009
    if op.kind == "thanks" and program.sponsor_thanks:
        return int(getattr(op.request, "points")) * len(op.refs)  # noqa: B009
    return 0


async def events(
    reads: LedgerReads, js: JetStreamContext, schemas: Sequence[str], stream: StreamContents
) -> tuple[list[Property], dict[str, int]]:
    """Outboxes all published, each event once in the stream, every durable consumer caught up
    with every event it subscribes to (applied once: its inbox is keyed by event id)."""
    published = Property("every outbox event published")
    once = Property("each event in the stream once")
    delivered = Property("every event delivered to its consumers")
    outbox_ids: set[str] = set()
    inboxes: dict[str, set[str]] = {}
    for schema in schemas:
        ids, unsent = await reads.outbox(schema)
        outbox_ids |= ids
        published.expect(unsent == 0, f"{schema}: {unsent} outbox events not marked sent")
        for consumer, applied in (await reads.inbox(schema)).items():
            inboxes.setdefault(consumer, set()).update(applied)
    unpublished = outbox_ids - set(stream.ids)
    published.expect(not unpublished, f"{len(unpublished)} outbox events not in the stream")
    published.note = f"{len(outbox_ids)} events in {len(schemas)} outboxes"
    for event_id, count in stream.ids.items():
        once.expect(count == 1, f"event {event_id} is {count}x in the stream")
    phantom = set(stream.ids) - outbox_ids
    once.expect(not phantom, f"{len(phantom)} stream events come from no outbox")
    once.expect(stream.without_id == 0, f"{stream.without_id} messages without Nats-Msg-Id")
    undelivered = 0
    for durable, (backlog, filters) in (await durable_consumers(js)).items():
        delivered.expect(backlog == 0, f"{durable}: {backlog} messages not acknowledged")
        wanted = {
            event_id
            for event_id, subject in stream.subjects.items()
            if any(subject_matches(f, subject) for f in filters)
        }
        missing = wanted - inboxes.get(durable, set())
        undelivered += len(missing)
        delivered.expect(not missing, f"{durable}: {len(missing)} events never applied")
        delivered.note += f"{'; ' if delivered.note else ''}{durable}: {len(wanted)} events"
    lost = {"events never published": len(unpublished), "events never applied": undelivered}
    return [published, once, delivered], lost
