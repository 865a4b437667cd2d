"""The catalog service's tables (schema `catalog`).

Items (a program's own, and the shared catalog's under program `_shared`) carry their stock
counters; reservations hold stock for orders until committed or released (one terminal state,
enforced by a trigger); gift codes are handed out once; the redemption history feeds
recommendations; members' item requests wait for an admin. Every row carries `program_id`.

The trigram index on `items.search_text` needs the pg_trgm extension (PostgreSQL contrib; the
embedded PostgreSQL has it too). Migration 0002 creates it when the extension can be had and
otherwise leaves the index out: search still works (LIKE over the program's items), slower.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base

Id = String(32)
Program = String(64)
Sku = String(64)
External = String(128)
Instant = DateTime(timezone=True)

ITEM_TYPES = "('physical', 'experience', 'egift', 'donation', 'lottery_prize')"


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("program_id", "sku"),
        CheckConstraint(f"item_type IN {ITEM_TYPES}", name="item_type"),
        CheckConstraint("status IN ('active', 'inactive', 'archived')", name="status"),
        CheckConstraint("price_points BETWEEN 0 AND 1000000000", name="price_points"),
        CheckConstraint("shipping_fee_points >= 0", name="shipping_fee_points"),
        CheckConstraint("max_per_member >= 0", name="max_per_member"),
        CheckConstraint("on_hand >= 0 AND reserved >= 0", name="stock_not_negative"),
        # Never more reserved than on hand: the database refuses an oversell outright.
        CheckConstraint("unlimited OR reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint(
            "available_until IS NULL OR available_from IS NULL OR available_until > available_from",
            name="window",
        ),
        Index(None, "program_id", "title", "item_id"),
        Index(None, "program_id", "price_points", "item_id"),
        Index(None, "program_id", "created_at", "item_id"),
        # Substring search (Japanese included) through pg_trgm; see the module docstring.
        Index(
            "ix_items_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    item_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    sku: Mapped[str] = mapped_column(Sku)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    category: Mapped[str] = mapped_column(String(64), server_default="")
    item_type: Mapped[str] = mapped_column(String(16))
    price_points: Mapped[int] = mapped_column(BigInteger)
    image_urls: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    available_from: Mapped[datetime | None] = mapped_column(Instant)
    available_until: Mapped[datetime | None] = mapped_column(Instant)
    max_per_member: Mapped[int] = mapped_column(Integer, server_default="0")
    shipping_fee_points: Mapped[int] = mapped_column(BigInteger, server_default="0")
    low_stock_threshold: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16))
    unlimited: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    on_hand: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reserved: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Normalized (NFKC, casefolded) SKU, title, description and category, searched by substring.
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class StockMovementRow(Base):
    """Why on_hand changed outside orders (deliveries, write-offs, code uploads): an audit trail."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index(None, "item_id", "created_at"),)

    movement_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(128), server_default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class ReservationRow(Base):
    __tablename__ = "stock_reservations"
    __table_args__ = (
        UniqueConstraint("program_id", "order_id"),
        CheckConstraint("status IN ('open', 'committed', 'released', 'returned')", name="status"),
        CheckConstraint("(status = 'open') = (settled_at IS NULL)", name="settled_at"),
        Index(None, "program_id", "member_id"),
        Index(
            "ix_stock_reservations_open_expiry", "expires_at", postgresql_where="status = 'open'"
        ),
    )

    reservation_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    order_id: Mapped[str] = mapped_column(External)
    member_id: Mapped[str] = mapped_column(External)
    status: Mapped[str] = mapped_column(String(16))
    total_points: Mapped[int] = mapped_column(BigInteger)
    release_reason: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(Instant)
    settled_at: Mapped[datetime | None] = mapped_column(Instant)
    returned_at: Mapped[datetime | None] = mapped_column(Instant)


class ReservationLineRow(Base):
    __tablename__ = "stock_reservation_lines"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 1000", name="quantity"),
        Index(None, "item_id"),
    )

    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("stock_reservations.reservation_id"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    sku: Mapped[str] = mapped_column(Sku)
    title: Mapped[str] = mapped_column(String(200))
    item_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_points: Mapped[int] = mapped_column(BigInteger)


class GiftCodeRow(Base):
    __tablename__ = "gift_codes"
    __table_args__ = (
        # A code enters a program once: re-uploading a code given out never makes it available.
        UniqueConstraint("program_id", "code"),
        CheckConstraint("status IN ('available', 'issued')", name="status"),
        CheckConstraint("(status = 'issued') = (reservation_id IS NOT NULL)", name="issued_to"),
        Index(
            "ix_gift_codes_available", "item_id", "code_id", postgresql_where="status = 'available'"
        ),
        Index(None, "reservation_id"),
    )

    code_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    code: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    reservation_id: Mapped[str | None] = mapped_column(
        ForeignKey("stock_reservations.reservation_id")
    )
    uploaded_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    issued_at: Mapped[datetime | None] = mapped_column(Instant)


class RedeemedItemRow(Base):
    """What members redeemed (from redeem's RecordRedemption), for recommendations."""

    __tablename__ = "redeemed_items"
    __table_args__ = (
        Index(None, "program_id", "member_id"),
        Index(None, "program_id", "sku"),
        Index(None, "program_id", "group_id"),
        Index(None, "program_id", "tier_id"),
    )

    redemption_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    member_id: Mapped[str] = mapped_column(External)
    group_id: Mapped[str] = mapped_column(External, server_default="")
    tier_id: Mapped[str] = mapped_column(External, server_default="")
    sku: Mapped[str] = mapped_column(Sku)
    quantity: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class ItemRequestRow(Base):
    __tablename__ = "item_requests"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'added', 'declined')", name="status"),
        CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="resolved_at"),
        Index(None, "program_id", "created_at", "request_id"),
    )

    request_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    member_id: Mapped[str] = mapped_column(External)
    sku: Mapped[str] = mapped_column(Sku, server_default="")
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(1000), server_default="")
    status: Mapped[str] = mapped_column(String(16))
    resolved_sku: Mapped[str] = mapped_column(Sku, server_default="")
    resolution_note: Mapped[str] = mapped_column(String(1000), server_default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(Instant)
