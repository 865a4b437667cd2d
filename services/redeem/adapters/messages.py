"""Domain objects to and from the redeem protobuf messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.redeem.adapters.orm import LotteryEntryRow, LotteryRow, PosDiscountRow
from services.redeem.domain.orders import Address, Order, OrderKind, OrderStatus
from tamaru.redeem.v1 import lotteries_pb2, orders_pb2, redeem_pb2

STATUS_TO_PROTO = {
    OrderStatus.PENDING: orders_pb2.ORDER_STATUS_PENDING,
    OrderStatus.CONFIRMED: orders_pb2.ORDER_STATUS_CONFIRMED,
    OrderStatus.FAILED: orders_pb2.ORDER_STATUS_FAILED,
    OrderStatus.CANCELLING: orders_pb2.ORDER_STATUS_CANCELLING,
    OrderStatus.CANCELLED: orders_pb2.ORDER_STATUS_CANCELLED,
    OrderStatus.SHIPPED: orders_pb2.ORDER_STATUS_SHIPPED,
    OrderStatus.DELIVERED: orders_pb2.ORDER_STATUS_DELIVERED,
}
STATUS_FROM_PROTO = {value: key for key, value in STATUS_TO_PROTO.items()}
KIND_TO_PROTO = {
    OrderKind.PURCHASE: orders_pb2.ORDER_KIND_PURCHASE,
    OrderKind.PRIZE: orders_pb2.ORDER_KIND_PRIZE,
}


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def address_to_proto(address: Address) -> orders_pb2.ShippingAddress:
    return orders_pb2.ShippingAddress(
        name=address.name,
        postal_code=address.postal_code,
        prefecture=address.prefecture,
        address_line1=address.address_line1,
        address_line2=address.address_line2,
        phone=address.phone,
    )


def address_from_proto(proto: orders_pb2.ShippingAddress) -> Address:
    return Address(
        name=proto.name.strip(),
        postal_code=proto.postal_code.strip(),
        prefecture=proto.prefecture.strip(),
        address_line1=proto.address_line1.strip(),
        address_line2=proto.address_line2.strip(),
        phone=proto.phone.strip(),
    )


def order_to_proto(order: Order) -> orders_pb2.Order:
    proto = orders_pb2.Order(
        order_id=order.order_id,
        member_id=order.member_id,
        kind=KIND_TO_PROTO[order.kind],
        status=STATUS_TO_PROTO[order.status],
        lines=[
            orders_pb2.OrderLine(
                sku=line.sku,
                title=line.title,
                type=line.item_type,  # type: ignore[arg-type]
                quantity=line.quantity,
                unit_price_points=line.unit_price_points,
                line_points=line.line_points,
                category=line.category,
            )
            for line in order.priced_lines
        ]
        or [orders_pb2.OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines],
        items_points=order.items_points,
        shipping_fee_points=order.shipping_fee_points,
        total_points=order.total_points,
        points_paid=order.points_paid or 0,
        yen_paid=order.yen_paid,
        codes=[orders_pb2.GiftCode(sku=c.sku, code=c.code) for c in order.codes],
        failure_reason=order.failure_reason,
        failure_message=order.failure_message,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        cancel_reason=order.cancel_reason,
        lottery_id=order.lottery_id,
        create_time=timestamp(order.created_at),
        update_time=timestamp(order.updated_at),
    )
    if order.address is not None:
        proto.shipping_address.CopyFrom(address_to_proto(order.address))
    for field, value in (
        ("confirm_time", order.confirmed_at),
        ("ship_time", order.shipped_at),
        ("deliver_time", order.delivered_at),
        ("cancel_time", order.cancelled_at),
    ):
        if value is not None:
            getattr(proto, field).CopyFrom(timestamp(value))
    return proto


def lottery_to_proto(row: LotteryRow, entry_count: int) -> lotteries_pb2.Lottery:
    drawn = row.status == "drawn"
    proto = lotteries_pb2.Lottery(
        lottery_id=row.lottery_id,
        title=row.title,
        prizes=[
            lotteries_pb2.LotteryPrize(sku=str(p["sku"]), count=int(p["count"])) for p in row.prizes
        ],
        entry_cost_points=row.entry_cost_points,
        max_entries_per_member=row.max_entries_per_member,
        entries_open_time=timestamp(row.opens_at),
        entries_close_time=timestamp(row.closes_at),
        draw_time=timestamp(row.draw_at),
        status=lotteries_pb2.LOTTERY_STATUS_DRAWN if drawn else lotteries_pb2.LOTTERY_STATUS_OPEN,
        seed_commitment=row.seed_commitment,
        # The seed stays secret until the draw: revealing it earlier would let anyone predict
        # (and time their entries for) the outcome.
        seed=row.seed if drawn else "",
        entry_count=entry_count,
        create_time=timestamp(row.created_at),
    )
    if row.drawn_at is not None:
        proto.drawn_time.CopyFrom(timestamp(row.drawn_at))
    return proto


def entry_to_proto(row: LotteryEntryRow) -> lotteries_pb2.LotteryEntry:
    return lotteries_pb2.LotteryEntry(
        entry_id=row.entry_id,
        lottery_id=row.lottery_id,
        member_id=row.member_id,
        create_time=timestamp(row.created_at),
        prize_sku=row.prize_sku,
        prize_order_id=row.prize_order_id,
    )


def winner_to_proto(row: LotteryEntryRow) -> lotteries_pb2.LotteryWinner:
    return lotteries_pb2.LotteryWinner(
        entry_id=row.entry_id,
        member_id=row.member_id,
        prize_sku=row.prize_sku,
        prize_order_id=row.prize_order_id,
        rank=row.rank or 0,
    )


def pos_discount_to_proto(row: PosDiscountRow) -> redeem_pb2.PosDiscount:
    proto = redeem_pb2.PosDiscount(
        discount_id=row.discount_id,
        member_id=row.member_id,
        sale_id=row.sale_id,
        store_id=row.store_id,
        points=row.points,
        transaction_id=row.transaction_id,
        voided=row.voided_at is not None,
        void_transaction_id=row.void_transaction_id,
        create_time=timestamp(row.created_at),
    )
    if row.voided_at is not None:
        proto.void_time.CopyFrom(timestamp(row.voided_at))
    return proto
