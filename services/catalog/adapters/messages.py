"""Domain objects <-> tamaru.catalog.v1 messages (API responses, command replies, events)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument
from services.catalog.domain.item_requests import ItemRequest, RequestStatus
from services.catalog.domain.items import Item, ItemDraft, ItemStatus, ItemType, StockLevel
from services.catalog.domain.recommendations import Reason
from services.catalog.domain.regions import Prefecture
from services.catalog.domain.reservations import Reservation, ReservationStatus
from services.catalog.domain.search import SortOrder
from services.catalog.domain.shipping import ShippingQuote
from tamaru.catalog.v1 import (
    catalog_pb2,
    commands_pb2,
    items_pb2,
    requests_pb2,
    shipping_pb2,
)

ITEM_TYPES = {
    ItemType.PHYSICAL: items_pb2.ITEM_TYPE_PHYSICAL,
    ItemType.EXPERIENCE: items_pb2.ITEM_TYPE_EXPERIENCE,
    ItemType.EGIFT: items_pb2.ITEM_TYPE_EGIFT,
    ItemType.DONATION: items_pb2.ITEM_TYPE_DONATION,
    ItemType.LOTTERY_PRIZE: items_pb2.ITEM_TYPE_LOTTERY_PRIZE,
}
ITEM_TYPE_OF = {v: k for k, v in ITEM_TYPES.items()}
ITEM_STATUSES = {
    ItemStatus.ACTIVE: items_pb2.ITEM_STATUS_ACTIVE,
    ItemStatus.INACTIVE: items_pb2.ITEM_STATUS_INACTIVE,
    ItemStatus.ARCHIVED: items_pb2.ITEM_STATUS_ARCHIVED,
}
ITEM_STATUS_OF = {v: k for k, v in ITEM_STATUSES.items()}
RESERVATION_STATUSES = {
    ReservationStatus.OPEN: commands_pb2.RESERVATION_STATUS_OPEN,
    ReservationStatus.COMMITTED: commands_pb2.RESERVATION_STATUS_COMMITTED,
    ReservationStatus.RELEASED: commands_pb2.RESERVATION_STATUS_RELEASED,
    ReservationStatus.RETURNED: commands_pb2.RESERVATION_STATUS_RETURNED,
}
REQUEST_STATUSES = {
    RequestStatus.OPEN: requests_pb2.ITEM_REQUEST_STATUS_OPEN,
    RequestStatus.ADDED: requests_pb2.ITEM_REQUEST_STATUS_ADDED,
    RequestStatus.DECLINED: requests_pb2.ITEM_REQUEST_STATUS_DECLINED,
}
REQUEST_STATUS_OF = {v: k for k, v in REQUEST_STATUSES.items()}
SORT_ORDERS = {
    catalog_pb2.SORT_ORDER_RELEVANCE: SortOrder.RELEVANCE,
    catalog_pb2.SORT_ORDER_TITLE: SortOrder.TITLE,
    catalog_pb2.SORT_ORDER_PRICE_ASCENDING: SortOrder.PRICE_ASCENDING,
    catalog_pb2.SORT_ORDER_PRICE_DESCENDING: SortOrder.PRICE_DESCENDING,
    catalog_pb2.SORT_ORDER_NEWEST: SortOrder.NEWEST,
}
REASONS = {
    Reason.ALSO_REDEEMED: catalog_pb2.RECOMMENDATION_REASON_ALSO_REDEEMED,
    Reason.POPULAR_IN_GROUP: catalog_pb2.RECOMMENDATION_REASON_POPULAR_IN_GROUP,
    Reason.POPULAR_IN_TIER: catalog_pb2.RECOMMENDATION_REASON_POPULAR_IN_TIER,
    Reason.POPULAR: catalog_pb2.RECOMMENDATION_REASON_POPULAR,
    Reason.NEW: catalog_pb2.RECOMMENDATION_REASON_NEW,
}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def instant(message: Message, field: str) -> datetime | None:
    """The Timestamp field as an aware UTC datetime, or None when unset."""
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def item_type(value: int, field: str) -> ItemType | None:
    if value == items_pb2.ITEM_TYPE_UNSPECIFIED:
        return None
    try:
        return ITEM_TYPE_OF[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(f"unknown item type {value}", field=field) from None


def draft_from_proto(message: items_pb2.ItemDraft, prefix: str = "item") -> ItemDraft:
    if message.status == items_pb2.ITEM_STATUS_UNSPECIFIED:
        status = ItemStatus.ACTIVE
    elif message.status in ITEM_STATUS_OF:
        status = ITEM_STATUS_OF[message.status]
    else:
        raise InvalidArgument(f"unknown status {message.status}", field=f"{prefix}.status")
    return ItemDraft(
        sku=message.sku,
        title=message.title,
        type=item_type(message.type, f"{prefix}.type"),
        price_points=message.price_points,
        description=message.description,
        category=message.category,
        image_urls=tuple(message.image_urls),
        available_from=instant(message, "available_from"),
        available_until=instant(message, "available_until"),
        max_per_member=message.max_per_member,
        shipping_fee_points=message.shipping_fee_points,
        low_stock_threshold=message.low_stock_threshold,
        status=status,
    )


def stock_to_proto(sku: str, stock: StockLevel) -> items_pb2.StockLevel:
    if stock.unlimited:
        return items_pb2.StockLevel(sku=sku, unlimited=True, reserved=stock.reserved)
    return items_pb2.StockLevel(
        sku=sku,
        on_hand=stock.on_hand,
        reserved=stock.reserved,
        available=stock.available,
        codes_available=stock.codes_available,
    )


def item_to_proto(item: Item) -> items_pb2.Item:
    d = item.draft
    return items_pb2.Item(
        sku=d.sku,
        title=d.title,
        description=d.description,
        category=d.category,
        image_urls=list(d.image_urls),
        type=ITEM_TYPES[item.type],
        price_points=d.price_points,
        available_from=timestamp(d.available_from),
        available_until=timestamp(d.available_until),
        max_per_member=d.max_per_member,
        shipping_fee_points=d.shipping_fee_points,
        low_stock_threshold=d.low_stock_threshold,
        status=ITEM_STATUSES[d.status],
        shared=item.shared,
        stock=stock_to_proto(d.sku, item.stock),
        create_time=timestamp(item.created_at),
        update_time=timestamp(item.updated_at),
    )


def reservation_to_proto(reservation: Reservation) -> commands_pb2.Reservation:
    return commands_pb2.Reservation(
        reservation_id=reservation.reservation_id,
        order_id=reservation.order_id,
        member_id=reservation.member_id,
        status=RESERVATION_STATUSES[reservation.status],
        lines=[
            commands_pb2.ReservedLine(
                sku=line.sku,
                title=line.title,
                type=ITEM_TYPES[line.type],
                quantity=line.quantity,
                unit_price_points=line.unit_price_points,
                line_points=line.line_points,
                category=line.category,
            )
            for line in reservation.lines
        ],
        total_points=reservation.total_points,
        create_time=timestamp(reservation.created_at),
        expire_time=timestamp(reservation.expires_at),
        settle_time=timestamp(reservation.settled_at),
        release_reason=reservation.release_reason,
        return_time=timestamp(reservation.returned_at),
    )


def prefecture_to_proto(prefecture: Prefecture) -> shipping_pb2.Prefecture:
    return shipping_pb2.Prefecture(
        jis_code=prefecture.jis_code,
        iso_code=prefecture.iso_code,
        name_en=prefecture.name_en,
        name_ja=prefecture.name_ja,
    )


def quote_to_proto(quote: ShippingQuote) -> shipping_pb2.QuoteShippingResponse:
    return shipping_pb2.QuoteShippingResponse(
        fee_points=quote.fee_points,
        region_fee_points=quote.region_fee_points,
        item_fee_points=quote.item_fee_points,
        shipping_required=quote.shipping_required,
        region=quote.region,
        prefecture=prefecture_to_proto(quote.prefecture),
    )


def item_request_to_proto(request: ItemRequest) -> requests_pb2.ItemRequest:
    return requests_pb2.ItemRequest(
        request_id=request.request_id,
        member_id=request.member_id,
        sku=request.sku,
        title=request.title,
        note=request.note,
        status=REQUEST_STATUSES[request.status],
        resolution_note=request.resolution_note,
        resolved_sku=request.resolved_sku,
        create_time=timestamp(request.created_at),
        resolve_time=timestamp(request.resolved_at),
    )
