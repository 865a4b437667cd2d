"""The accounts service's tables (schema `accounts`).

Members and their identifiers and groups; the ledger: point accounts with cached balances,
lots, holds with their lot allocations, journal transactions with postings and the lots each
spend/expiry drew from. Every row carries `program_id`; every query filters on it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base

Id = String(36)
Program = String(64)


class MemberRow(Base):
    """A member. `group_id` mirrors the first of the member's groups (`member_groups` holds
    them all) for readers written before members had several groups."""

    __tablename__ = "members"

    member_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    external_ref: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    group_id: Mapped[str | None] = mapped_column(Id)
    profile_image_url: Mapped[str] = mapped_column(String(2048), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    tier_id: Mapped[str] = mapped_column(String(64), default="")
    manual_tier_id: Mapped[str] = mapped_column(String(64), default="")
    manual_tier_mode: Mapped[str] = mapped_column(String(16), default="")
    manual_tier_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(Id)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        UniqueConstraint("program_id", "external_ref"),
        Index("ix_members_program_group", "program_id", "group_id"),
        Index("ix_members_program_status", "program_id", "status"),
        # Keyset pages of ListMembers/SearchMembers/ExportMembers: (joined_at, member_id).
        Index("ix_members_program_joined", "program_id", "joined_at", "member_id"),
        # Tiers count the points of members merged into a survivor.
        Index(
            "ix_members_merged_into",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
    )


class IdentifierRow(Base):
    """A card, app id or e-commerce id linked to a member; unique per program and kind. At
    most one per member and kind is the primary one (shown by default, e.g. on a card)."""

    __tablename__ = "identifiers"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    member_id: Mapped[str] = mapped_column(Id, index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "ix_identifiers_one_primary",
            "member_id",
            "kind",
            unique=True,
            postgresql_where=text("is_primary"),
        ),
    )


class MemberGroupRow(Base):
    """A member's membership of one group (a member may be in several)."""

    __tablename__ = "member_groups"

    member_id: Mapped[str] = mapped_column(Id, primary_key=True)
    group_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)

    __table_args__ = (Index("ix_member_groups_group", "program_id", "group_id", "member_id"),)


class GroupRow(Base):
    """A department, team or store. `path` lists the group ids from the root down, each
    followed by `/` (`/<root id>/<child id>/`), so a subtree is one `LIKE '<path>%'`."""

    __tablename__ = "groups"

    group_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    parent_id: Mapped[str | None] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index("ix_groups_program_path", "program_id", "path"),
        Index("ix_groups_program_parent", "program_id", "parent_id"),
    )


class NewsRow(Base):
    """A news post. Visible from `publish_at` until `unpublished_at` (scheduled by the author
    or set by UnpublishNews); `announced_at` records that `news_published` went out."""

    __tablename__ = "news_posts"

    news_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    group_ids: Mapped[list[str]] = mapped_column(
        ARRAY(String(36)), default=list, server_default=text("'{}'")
    )
    publish_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    unpublished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index("ix_news_program_publish", "program_id", "publish_at"),
        # The announcer's work list: posts whose news_published has not gone out yet.
        Index("ix_news_unannounced", "publish_at", postgresql_where=text("announced_at IS NULL")),
    )


class AccountRow(Base):
    """A member's point account; `available`/`held` are the cached balances (the row lock
    serialises spends on one account)."""

    __tablename__ = "point_accounts"

    account_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    status: Mapped[str] = mapped_column(String(16), default="active")
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    deficit: Mapped[int] = mapped_column(BigInteger, default=0)
    merged_into: Mapped[str | None] = mapped_column(Id)

    __table_args__ = (
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("deficit >= 0", name="deficit_not_negative"),
        Index("ix_point_accounts_program", "program_id"),
    )


class LotRow(Base):
    __tablename__ = "lots"

    lot_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    account_id: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expired_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_tx_id: Mapped[str] = mapped_column(Id)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        CheckConstraint("expired_amount >= 0", name="expired_not_negative"),
        Index("ix_lots_account_live", "account_id", postgresql_where=text("remaining > 0")),
        # The expiry sweeper's work list: due lots that still hold points.
        Index(
            "ix_lots_due",
            "expires_at",
            postgresql_where=text("remaining > 0 AND expires_at IS NOT NULL"),
        ),
    )


class HoldRow(Base):
    """Points reserved for a pending order. A trigger (see migration 0002) forbids any change
    once `status` left 'open': a hold settles exactly once, enforced by the database."""

    __tablename__ = "holds"

    hold_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    account_id: Mapped[str] = mapped_column(Id)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    captured_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    settle_tx_id: Mapped[str | None] = mapped_column(Id)
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(128), default="")
    idempotency_key: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('open', 'captured', 'released', 'expired')", name="status_known"
        ),
        Index("ix_holds_open_due", "expires_at", postgresql_where=text("status = 'open'")),
        Index("ix_holds_account", "account_id"),
    )


class HoldAllocationRow(Base):
    __tablename__ = "hold_allocations"

    hold_id: Mapped[str] = mapped_column(Id, primary_key=True)
    lot_id: Mapped[str] = mapped_column(Id, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class TransactionRow(Base):
    """A journal transaction: why (type, reason), from where (source), by whom (actor)."""

    __tablename__ = "ledger_transactions"

    tx_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    type: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(Id)
    amount: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(128), default="")
    idempotency_key: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str | None] = mapped_column(String(64))
    sponsor_funded: Mapped[bool] = mapped_column(Boolean, default=False)
    counterparty_account_id: Mapped[str | None] = mapped_column(Id)
    hold_id: Mapped[str | None] = mapped_column(Id)
    reverses_tx_id: Mapped[str | None] = mapped_column(Id)
    reversed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        Index("ix_ledger_tx_account_time", "account_id", "occurred_at"),
        Index("ix_ledger_tx_program_time", "program_id", "occurred_at"),
        # Billing's reconciliation (GetSponsorFundedTotals): an index-only scan per month.
        Index(
            "ix_ledger_tx_sponsor_time",
            "program_id",
            "occurred_at",
            postgresql_include=["type", "amount"],
            postgresql_where=text("sponsor_funded"),
        ),
    )


class PostingRow(Base):
    """One leg of a transaction; a transaction's postings sum to zero."""

    __tablename__ = "postings"

    posting_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tx_id: Mapped[str] = mapped_column(Id, index=True)
    program_id: Mapped[str] = mapped_column(Program)
    account_type: Mapped[str] = mapped_column(String(8))
    account_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("account_type IN ('member', 'system')", name="account_type_known"),
    )


class LotDrawRow(Base):
    """Which lots a transaction spent from or expired, so a reversal restores exactly them."""

    __tablename__ = "transaction_lot_draws"

    tx_id: Mapped[str] = mapped_column(Id, primary_key=True)
    lot_id: Mapped[str] = mapped_column(Id, primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # 'spent' | 'expired'
    amount: Mapped[int] = mapped_column(BigInteger)
