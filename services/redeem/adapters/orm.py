"""The redeem service's tables (schema `redeem`): orders with their saga state and step log,
POS discounts, lotteries and their entries. Every row carries `program_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base

Id = String(32)
Program = String(64)
Key = String(255)
Ref = String(128)
Instant = DateTime(timezone=True)

ORDER_STATUSES = (
    "('pending', 'confirmed', 'failed', 'cancelling', 'cancelled', 'shipped', 'delivered')"
)
SAGA_PHASES = "('forward', 'compensating', 'cancelling', 'done')"


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("program_id", "idempotency_key"),
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="status"),
        CheckConstraint(f"phase IN {SAGA_PHASES}", name="phase"),
        CheckConstraint("kind IN ('purchase', 'prize')", name="kind"),
        CheckConstraint(
            "total_points >= 0 AND yen_paid >= 0 AND (points_paid IS NULL OR points_paid >= 0)",
            name="amounts",
        ),
        # A saga that is done has left every intermediate status behind.
        CheckConstraint(
            "(phase = 'done') = (status NOT IN ('pending', 'cancelling'))", name="done"
        ),
        Index("ix_orders_program_id_member_id_created_at", "program_id", "member_id", "created_at"),
        Index("ix_orders_program_id_created_at", "program_id", "created_at"),
        Index(
            "ix_orders_running_lease_until",
            "lease_until",
            postgresql_where="phase <> 'done'",
        ),
    )

    order_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    member_id: Mapped[str] = mapped_column(Ref)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(Key)
    request_hash: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    payment_token: Mapped[str] = mapped_column(String(255), default="")
    lottery_id: Mapped[str] = mapped_column(String(32), default="")
    shipping_fee_points: Mapped[int] = mapped_column(BigInteger, default=0)
    priced_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    items_points: Mapped[int] = mapped_column(BigInteger, default=0)
    total_points: Mapped[int] = mapped_column(BigInteger, default=0)
    points_paid: Mapped[int | None] = mapped_column(BigInteger)
    yen_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    reservation_id: Mapped[str] = mapped_column(String(64), default="")
    hold_id: Mapped[str] = mapped_column(String(64), default="")
    capture_tx_id: Mapped[str] = mapped_column(String(64), default="")
    authorization_id: Mapped[str] = mapped_column(String(64), default="")
    codes: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    failure_reason: Mapped[str] = mapped_column(String(64), default="")
    failure_message: Mapped[str] = mapped_column(Text, default="")
    failure_code: Mapped[int] = mapped_column(Integer, default=0)
    failure_field: Mapped[str] = mapped_column(String(128), default="")
    phase: Mapped[str] = mapped_column(String(16))
    completed: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    undone: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    in_doubt: Mapped[str] = mapped_column(String(32), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Who drives the saga now and until when; another driver takes over once it has passed.
    lease_owner: Mapped[str] = mapped_column(String(32), default="")
    lease_until: Mapped[datetime] = mapped_column(Instant)
    carrier: Mapped[str] = mapped_column(String(64), default="")
    tracking_number: Mapped[str] = mapped_column(String(64), default="")
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    refund_tx_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(Instant)
    shipped_at: Mapped[datetime | None] = mapped_column(Instant)
    delivered_at: Mapped[datetime | None] = mapped_column(Instant)
    cancelled_at: Mapped[datetime | None] = mapped_column(Instant)


class OrderStepRow(Base):
    """The saga's log: one row per step done, undone or failed (support reads it)."""

    __tablename__ = "order_steps"
    __table_args__ = (Index("ix_order_steps_order_id_seq", "order_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        Id, ForeignKey("orders.order_id", name="fk_order_steps_order_id_orders")
    )
    program_id: Mapped[str] = mapped_column(Program)
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class PosDiscountRow(Base):
    __tablename__ = "pos_discounts"
    __table_args__ = (
        UniqueConstraint("program_id", "sale_id"),
        CheckConstraint("points > 0", name="points"),
    )

    discount_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    sale_id: Mapped[str] = mapped_column(Ref)
    store_id: Mapped[str] = mapped_column(String(64), default="")
    member_id: Mapped[str] = mapped_column(Ref)
    points: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[str] = mapped_column(String(64))
    void_transaction_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    voided_at: Mapped[datetime | None] = mapped_column(Instant)


class LotteryRow(Base):
    __tablename__ = "lotteries"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'drawn')", name="status"),
        CheckConstraint("entry_cost_points > 0", name="entry_cost_points"),
        CheckConstraint("max_entries_per_member > 0", name="max_entries_per_member"),
        CheckConstraint("closes_at > opens_at AND draw_at >= closes_at", name="window"),
        Index("ix_lotteries_program_id_created_at", "program_id", "created_at"),
    )

    lottery_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    title: Mapped[str] = mapped_column(String(200))
    prizes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    entry_cost_points: Mapped[int] = mapped_column(BigInteger)
    max_entries_per_member: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column(Instant)
    closes_at: Mapped[datetime] = mapped_column(Instant)
    draw_at: Mapped[datetime] = mapped_column(Instant)
    status: Mapped[str] = mapped_column(String(16))
    seed_commitment: Mapped[str] = mapped_column(String(64))
    # Secret until the draw; revealed (returned to callers) only once status is 'drawn'.
    seed: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    drawn_at: Mapped[datetime | None] = mapped_column(Instant)


class LotteryEntryRow(Base):
    __tablename__ = "lottery_entries"
    __table_args__ = (Index("ix_lottery_entries_lottery_id_member_id", "lottery_id", "member_id"),)

    entry_id: Mapped[str] = mapped_column(Id, primary_key=True)
    lottery_id: Mapped[str] = mapped_column(
        Id, ForeignKey("lotteries.lottery_id", name="fk_lottery_entries_lottery_id_lotteries")
    )
    program_id: Mapped[str] = mapped_column(Program)
    member_id: Mapped[str] = mapped_column(Ref)
    debit_tx_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    prize_sku: Mapped[str] = mapped_column(String(64), default="")
    prize_order_id: Mapped[str] = mapped_column(String(32), default="")
    rank: Mapped[int | None] = mapped_column(Integer)
