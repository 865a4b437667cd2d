"""Domain values <-> earn protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument, TamaruError
from services.earn.adapters.orm import OfferRow, PurchaseRow
from services.earn.domain.earn_rules import BreakdownItem, EarnResult
from services.earn.domain.purchases import Line, Purchase
from tamaru.earn.v1 import purchases_pb2 as p

MAX_EVENT_ID = 255


def stamp(at: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(at.astimezone(UTC))
    return out


def time_or_now(value: Timestamp, has: bool) -> datetime:
    return value.ToDatetime(tzinfo=UTC) if has else datetime.now(UTC)


def event_id(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required (the client's id of the event)", field=field)
    if len(value) > MAX_EVENT_ID:
        raise InvalidArgument(f"{field} is longer than {MAX_EVENT_ID} characters", field=field)
    return value


def under(prefix: str, exc: TamaruError) -> TamaruError:
    """The error with its field named from the request's root (`purchase.amount_yen`)."""
    exc.field = f"{prefix}.{exc.field}" if exc.field else prefix
    return exc


def purchase_from(msg: p.Purchase, *, tier_id: str = "") -> Purchase:
    try:
        return Purchase(
            occurred_at=time_or_now(msg.occurred_at, msg.HasField("occurred_at")),
            channel=msg.channel,
            store=msg.store,
            amount_yen=msg.amount_yen,
            lines=tuple(Line(x.sku, x.category, x.amount_yen) for x in msg.lines),
            tier_id=tier_id,
        )
    except TamaruError as exc:
        raise under("purchase", exc) from None


def item_dict(item: BreakdownItem) -> dict[str, Any]:
    return {
        "source": item.source,
        "ref": item.ref,
        "name": item.name,
        "points": item.points,
        "kind": item.kind,
        "note": item.note,
    }


def breakdown_proto(items: list[dict[str, Any]]) -> list[p.BreakdownItem]:
    return [p.BreakdownItem(**item) for item in items]


def result_proto(
    result: EarnResult, generation: int, transaction_ids: list[str] | None = None
) -> p.EarnResult:
    return p.EarnResult(
        total_points=result.total,
        breakdown=breakdown_proto([item_dict(i) for i in result.items]),
        by_kind=[p.KindPoints(kind=k, points=v) for k, v in result.by_kind().items()],
        rules_generation=generation,
        transaction_ids=transaction_ids or [],
    )


def purchase_record(row: PurchaseRow) -> p.PurchaseRecord:
    return p.PurchaseRecord(
        purchase_id=row.purchase_id,
        account_id=row.account_id,
        channel=row.channel,
        store=row.store,
        amount_yen=row.amount_yen,
        lines=[p.PurchaseLine(**line) for line in row.lines],
        occurred_at=stamp(row.occurred_at),
        points_earned=row.points_earned,
        returned_yen=row.returned_yen,
        points_reversed=row.points_reversed,
        breakdown=breakdown_proto(row.breakdown),
    )


def offer_proto(row: OfferRow, name: str, message: str, percent: int) -> p.IssuedOffer:
    out = p.IssuedOffer(
        offer_issue_id=row.offer_issue_id,
        offer_id=row.offer_id,
        name=name,
        message=message,
        multiplier_percent=percent,
        issued_at=stamp(row.issued_at),
        expires_at=stamp(row.expires_at),
        used_by_event=row.used_by_event,
        trigger_event=row.trigger_event,
        account_id=row.account_id,
    )
    if row.used_at is not None:
        out.used_at.CopyFrom(stamp(row.used_at))
    return out
