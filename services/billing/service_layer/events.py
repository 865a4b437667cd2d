"""Applies accounts' and redeem's events to billing's tables: charges, members, usage, tiers,
drafts, redeemed items and lottery entries.

Runs inside the consumer's transaction, after the inbox claimed the event, so each event
takes effect once. Every effect is either a sum (counters, charges) or keyed by time
(member status, tiers), so the order events arrive in does not change the result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork
from runtime.programs.spec import ProgramSpec
from services.billing.adapters.invoice_repository import InvoiceRepository
from services.billing.adapters.repository import BatchWrites, BillingRepository
from services.billing.domain.periods import Period
from services.billing.domain.usage import NO_CATEGORY, Metric, source_key
from services.billing.service_layer.drafts import Drafts, PendingRecomputes
from tamaru.accounts.v1 import events_pb2, ledger_pb2
from tamaru.common.v1 import common_pb2
from tamaru.redeem.v1 import events_pb2 as redeem_events_pb2
from tamaru.redeem.v1.orders_pb2 import Order

log = logging.getLogger(__name__)

CLOSED_STATUSES = {ledger_pb2.ACCOUNT_STATUS_CLOSED, ledger_pb2.ACCOUNT_STATUS_MERGED}


@dataclass
class EventContext:
    envelope: common_pb2.EventEnvelope
    spec: ProgramSpec
    at: datetime
    period: Period
    repo: BillingRepository
    drafts: Drafts


def source_type_name(source: ledger_pb2.Source) -> str:
    name = ledger_pb2.SourceType.Name(source.type).removeprefix("SOURCE_TYPE_").lower()
    return "" if name == "unspecified" else name


async def _charge(
    ev: EventContext, points: int, *, reversal: bool, account_id: str, tx_id: str, key: str
) -> None:
    await ev.repo.start_no_later_than(ev.at.astimezone(ev.spec.zone).date())
    billed = await ev.drafts.billing_period(ev.period)
    unit = ev.spec.yen_per_point
    added = await ev.repo.add_charge(
        {
            "event_id": ev.envelope.event_id,
            "account_id": account_id,
            "transaction_id": tx_id,
            "occurred_at": ev.at,
            "occurred_period": str(ev.period),
            "billed_period": str(billed),
            "points": points,
            "unit_yen": unit,
            "amount_yen": points * unit,
            "reversal": reversal,
            "source_key": key,
        }
    )
    if added:
        await ev.drafts.recompute_from(min(billed, ev.period))


async def points_credited(ev: EventContext, msg: events_pb2.PointsCredited) -> None:
    key = source_key(source_type_name(msg.source), msg.source.id)
    count = ev.repo.count
    if msg.adjustment:
        await count(ev.period, Metric.ADJUSTED_UP, "", msg.amount)
    else:
        await count(ev.period, Metric.GRANTED, key, msg.amount)
    await count(ev.period, Metric.LIABILITY, "", msg.amount)
    if msg.source.type == ledger_pb2.SOURCE_TYPE_THANKS:
        await count(ev.period, Metric.THANKS_POINTS, "", msg.amount)
        await count(ev.period, Metric.THANKS_MESSAGES, "", 1)
        await count(ev.period, Metric.THANKS_RECEIVED, msg.account_id, msg.amount)
    await ev.repo.mark_active(ev.period, msg.account_id)
    if msg.sponsor_funded:
        await count(ev.period, Metric.GRANTED_SPONSOR_FUNDED, "", msg.amount)
        await _charge(
            ev, msg.amount, reversal=False, account_id=msg.account_id,
            tx_id=msg.transaction_id, key=key,
        )  # fmt: skip


async def transaction_reversed(ev: EventContext, msg: events_pb2.TransactionReversed) -> None:
    result = msg.result
    count = ev.repo.count
    await count(ev.period, Metric.CLAWED_BACK, "", result.clawed_back)
    await count(ev.period, Metric.RESTORED, "", result.restored)
    await count(ev.period, Metric.EXPIRED, "", result.expired)
    await count(
        ev.period, Metric.LIABILITY, "", result.restored - result.expired - result.clawed_back
    )
    await ev.repo.mark_active(ev.period, msg.account_id)
    if msg.sponsor_funded and result.clawed_back:
        # The sponsor is credited for points actually taken back (not for a shortfall the
        # member had already spent, nor for points that had expired).
        key = source_key(source_type_name(msg.source), msg.source.id)
        await _charge(
            ev, -result.clawed_back, reversal=True, account_id=msg.account_id,
            tx_id=result.transaction_id, key=key,
        )  # fmt: skip


async def points_debited(ev: EventContext, msg: events_pb2.PointsDebited) -> None:
    metric = Metric.ADJUSTED_DOWN if msg.adjustment else Metric.SPENT
    key = "" if msg.adjustment else (source_type_name(msg.source) or "unspecified")
    await ev.repo.count(ev.period, metric, key, msg.amount)
    await ev.repo.count(ev.period, Metric.LIABILITY, "", -msg.amount)
    await ev.repo.mark_active(ev.period, msg.account_id)


async def hold_captured(ev: EventContext, msg: events_pb2.HoldCaptured) -> None:
    key = source_type_name(msg.source) or "unspecified"
    await ev.repo.count(ev.period, Metric.SPENT, key, msg.amount)
    await ev.repo.count(ev.period, Metric.LIABILITY, "", -msg.amount)
    await ev.repo.mark_active(ev.period, msg.account_id)


async def points_expired(ev: EventContext, msg: events_pb2.PointsExpired) -> None:
    await ev.repo.count(ev.period, Metric.EXPIRED, "", msg.amount)
    await ev.repo.count(ev.period, Metric.LIABILITY, "", -msg.amount)


async def points_transferred(ev: EventContext, msg: events_pb2.PointsTransferred) -> None:
    await ev.repo.mark_active(ev.period, msg.from_account_id)
    await ev.repo.mark_active(ev.period, msg.to_account_id)
    if msg.source.type != ledger_pb2.SOURCE_TYPE_THANKS:
        return
    count = ev.repo.count
    await count(ev.period, Metric.THANKS_POINTS, "", msg.amount)
    await count(ev.period, Metric.THANKS_MESSAGES, "", 1)
    # Keyed by account: the report shows each member's external ref (known from enrolment).
    await count(ev.period, Metric.THANKS_SENT, msg.from_account_id, msg.amount)
    await count(ev.period, Metric.THANKS_RECEIVED, msg.to_account_id, msg.amount)


async def member_enrolled(ev: EventContext, msg: events_pb2.MemberEnrolled) -> None:
    at = msg.enrolled_at.ToDatetime(tzinfo=UTC) if msg.HasField("enrolled_at") else ev.at
    await ev.repo.start_no_later_than(at.astimezone(ev.spec.zone).date())
    await ev.repo.enrolled(msg.account_id, msg.member_external_ref, at)
    await _members_changed(ev, Period.containing(at, ev.spec.zone))


async def member_status_changed(ev: EventContext, msg: events_pb2.MemberStatusChanged) -> None:
    await ev.repo.status_changed(msg.account_id, msg.new_status in CLOSED_STATUSES, ev.at)
    await _members_changed(ev, ev.period)


async def accounts_merged(ev: EventContext, msg: events_pb2.AccountsMerged) -> None:
    await ev.repo.status_changed(msg.absorbed_account_id, True, ev.at)
    await _members_changed(ev, ev.period)


async def tier_changed(ev: EventContext, msg: events_pb2.TierChanged) -> None:
    await ev.repo.tier_changed(ev.envelope.event_id, msg.account_id, msg.new_tier_id, ev.at)


async def _members_changed(ev: EventContext, period: Period) -> None:
    await ev.drafts.live(period)  # the period is billed even if no charge ever lands on it
    await ev.drafts.recompute_from(period)


Handler = Callable[[EventContext, Message], Awaitable[None]]
Handlers = dict[str, tuple[type[Message], Handler]]
HANDLERS: Handlers = {
    "points_credited": (events_pb2.PointsCredited, points_credited),  # type: ignore[dict-item]
    "transaction_reversed": (events_pb2.TransactionReversed, transaction_reversed),  # type: ignore[dict-item]
    "points_debited": (events_pb2.PointsDebited, points_debited),  # type: ignore[dict-item]
    "hold_captured": (events_pb2.HoldCaptured, hold_captured),  # type: ignore[dict-item]
    "points_expired": (events_pb2.PointsExpired, points_expired),  # type: ignore[dict-item]
    "points_transferred": (events_pb2.PointsTransferred, points_transferred),  # type: ignore[dict-item]
    "member_enrolled": (events_pb2.MemberEnrolled, member_enrolled),  # type: ignore[dict-item]
    "member_status_changed": (events_pb2.MemberStatusChanged, member_status_changed),  # type: ignore[dict-item]
    "accounts_merged": (events_pb2.AccountsMerged, accounts_merged),  # type: ignore[dict-item]
    "tier_changed": (events_pb2.TierChanged, tier_changed),  # type: ignore[dict-item]
}


@dataclass
class Batch:
    """What a batch of events defers to its end: draft recomputes and the summed writes."""

    drafts: PendingRecomputes = field(default_factory=PendingRecomputes)
    writes: BatchWrites = field(default_factory=BatchWrites)

    async def flush(self, uow: UnitOfWork) -> None:
        await self.writes.flush(uow.session)  # first: drafts read the program's start date
        await self.drafts.flush()


class EventApplier:
    """Applies one feed's events (accounts', redeem's or earn's) to billing's tables, with the
    event's program config; the caller has claimed the event in the inbox."""

    def __init__(self, handlers: Handlers, *, starts_billing: bool = True) -> None:
        self.handlers = handlers
        # Earn's purchases can be back-dated: they must not move the program's first billed
        # period (and its setup and service fees) earlier, so only ledger events start billing.
        self.starts_billing = starts_billing

    def handles(self, envelope: common_pb2.EventEnvelope) -> bool:
        """False for holds, links, news, shipments...: nothing billing counts."""
        return envelope.event_type in self.handlers

    async def apply(
        self,
        uow: UnitOfWork,
        envelope: common_pb2.EventEnvelope,
        spec: ProgramSpec,
        batch: Batch | None = None,
    ) -> None:
        """`batch`: what to defer to the batch's end (None: write and recompute now)."""
        entry = self.handlers.get(envelope.event_type)
        if entry is None:
            return
        message_type, handler = entry
        at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        repo = BillingRepository(
            uow.session, envelope.program_id, batch.writes if batch is not None else None
        )
        invoices = InvoiceRepository(uow.session, envelope.program_id)
        if self.starts_billing:
            await repo.ensure_program(at.astimezone(spec.zone).date())
        ev = EventContext(
            envelope=envelope,
            spec=spec,
            at=at,
            period=Period.containing(at, spec.zone),
            repo=repo,
            drafts=Drafts(repo, invoices, spec, batch.drafts if batch is not None else None),
        )
        await handler(ev, message_type.FromString(envelope.payload))


# -- redeem's events: what members redeemed and entered ---------------------------------------


async def _count_items(ev: EventContext, order: Order, sign: int) -> None:
    for line in order.lines:
        await ev.repo.count(ev.period, Metric.ITEMS_REDEEMED, line.sku, sign * line.quantity)
        category = line.category or NO_CATEGORY
        await ev.repo.count(ev.period, Metric.SPENT_BY_CATEGORY, category, sign * line.line_points)


async def order_confirmed(ev: EventContext, msg: redeem_events_pb2.OrderChanged) -> None:
    await _count_items(ev, msg.order, +1)


async def order_cancelled(ev: EventContext, msg: redeem_events_pb2.OrderChanged) -> None:
    # In the month of the cancellation, like a reversal's negative charge.
    await _count_items(ev, msg.order, -1)


async def lottery_entered(ev: EventContext, msg: redeem_events_pb2.LotteryEntered) -> None:
    await ev.repo.count(ev.period, Metric.LOTTERY_ENTRIES, msg.entry.lottery_id, 1)


REDEEM_HANDLERS: Handlers = {
    "order_confirmed": (redeem_events_pb2.OrderChanged, order_confirmed),  # type: ignore[dict-item]
    "order_cancelled": (redeem_events_pb2.OrderChanged, order_cancelled),  # type: ignore[dict-item]
    "lottery_entered": (redeem_events_pb2.LotteryEntered, lottery_entered),  # type: ignore[dict-item]
}
