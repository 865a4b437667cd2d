"""The earn service's tables (schema `earn`). Every row carries its `program_id`.

Earn keeps what it needs to explain and undo points, never the points themselves (the ledger
is accounts'): the config revisions rules are taken from, each recorded purchase with its
breakdown and the ledger credits it caused, returns, grants, behaviours, offers, thanks and
the counters caps and allowances are checked against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base

Program = String(64)
Id = String(64)
ClientId = String(255)
Instant = DateTime(timezone=True)


class RuleRevisionRow(Base):
    """Every program config generation with the time it took effect: an event is scored with
    the revision in force at its own time."""

    __tablename__ = "rule_revisions"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(Instant)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)


class RuleUsageRow(Base):
    """Extra points a capped rule gave: per member, and in total (account_id '*')."""

    __tablename__ = "rule_usage"
    __table_args__ = (CheckConstraint("points >= 0", name="points"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    rule_id: Mapped[str] = mapped_column(Id, primary_key=True)
    account_id: Mapped[str] = mapped_column(Id, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class PurchaseRow(Base):
    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_member", "program_id", "account_id", "occurred_at", "purchase_id"),
        CheckConstraint("amount_yen > 0", name="amount_yen"),
        CheckConstraint("returned_yen BETWEEN 0 AND amount_yen", name="returned_yen"),
        CheckConstraint("points_reversed BETWEEN 0 AND points_earned", name="points_reversed"),
    )

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    purchase_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    account_id: Mapped[str] = mapped_column(Id)
    channel: Mapped[str] = mapped_column(String(16))
    store: Mapped[str] = mapped_column(String(64))
    amount_yen: Mapped[int] = mapped_column(BigInteger)
    # [{"sku", "category", "amount_yen"}], and the yen returned of each so far.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    returned_by_line: Mapped[list[int]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # {kind: {"transaction_id", "points"}}: the ledger credits a return reverses.
    credits: Mapped[dict[str, Any]] = mapped_column(JSONB)
    returned_yen: Mapped[int] = mapped_column(BigInteger, default=0)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    rules_generation: Mapped[int] = mapped_column(BigInteger)
    offer_issue_id: Mapped[str] = mapped_column(Id, default="")
    recorded_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class ReturnRow(Base):
    __tablename__ = "purchase_returns"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    return_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    purchase_id: Mapped[str] = mapped_column(ClientId)
    returned_yen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    clawed_back: Mapped[int] = mapped_column(BigInteger)
    shortfall: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    recorded_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class GrantRow(Base):
    """A grant: what, how much, who granted it (API key id) and who pays (sponsor or not)."""

    __tablename__ = "grants"
    __table_args__ = (CheckConstraint("points > 0", name="points"),)

    grant_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program, index=True)
    criterion_id: Mapped[str] = mapped_column(Id)
    points: Mapped[int] = mapped_column(BigInteger)
    point_kind: Mapped[str] = mapped_column(Id)
    reason: Mapped[str] = mapped_column(Text)
    sponsor_funded: Mapped[bool] = mapped_column(Boolean)
    granted_by: Mapped[str] = mapped_column(Id)
    members: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class GrantRecipientRow(Base):
    __tablename__ = "grant_recipients"

    grant_id: Mapped[str] = mapped_column(Id, primary_key=True)
    account_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    transaction_id: Mapped[str] = mapped_column(Id)


class BehaviourRow(Base):
    __tablename__ = "behaviour_events"
    __table_args__ = (
        Index("ix_behaviour_events_period", "program_id", "account_id", "rule_id", "period_start"),
    )

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    event_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    account_id: Mapped[str] = mapped_column(Id)
    behaviour: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(Id)
    store: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    # Start of the frequency period (program time zone) the event counts in.
    period_start: Mapped[datetime] = mapped_column(Instant)
    points: Mapped[int] = mapped_column(BigInteger)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class OfferRow(Base):
    """An offer issued to a member; `used_at` is set once (an offer is used once)."""

    __tablename__ = "member_offers"
    __table_args__ = (Index("ix_member_offers_member", "program_id", "account_id"),)

    offer_issue_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    account_id: Mapped[str] = mapped_column(Id)
    offer_id: Mapped[str] = mapped_column(Id)
    trigger_event: Mapped[str] = mapped_column(ClientId)
    issued_at: Mapped[datetime] = mapped_column(Instant)
    expires_at: Mapped[datetime] = mapped_column(Instant)
    used_at: Mapped[datetime | None] = mapped_column(Instant)
    used_by_event: Mapped[str] = mapped_column(ClientId, default="")


class ThanksRow(Base):
    __tablename__ = "thanks"
    __table_args__ = (
        Index("ix_thanks_timeline", "program_id", "sent_at", "thanks_id"),
        CheckConstraint("points > 0", name="points"),
        CheckConstraint("sender_id <> receiver_id", name="not_self"),
    )

    thanks_id: Mapped[str] = mapped_column(Id, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    sender_id: Mapped[str] = mapped_column(Id)
    receiver_id: Mapped[str] = mapped_column(Id)
    points: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean)
    transaction_id: Mapped[str] = mapped_column(Id)
    sent_at: Mapped[datetime] = mapped_column(Instant)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)


class ThanksReplyRow(Base):
    __tablename__ = "thanks_replies"
    __table_args__ = (Index("ix_thanks_replies_thread", "thanks_id", "sent_at"),)

    reply_id: Mapped[str] = mapped_column(Id, primary_key=True)
    thanks_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Program)
    author_id: Mapped[str] = mapped_column(Id)
    message: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(Instant)


class ThanksAllowanceRow(Base):
    """Points a member gave in a month ('YYYY-MM', program time zone)."""

    __tablename__ = "thanks_allowances"
    __table_args__ = (CheckConstraint("given >= 0", name="given"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    account_id: Mapped[str] = mapped_column(Id, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    given: Mapped[int] = mapped_column(BigInteger, default=0)


class ImportJobRow(Base):
    """A file import; the file's kind and SHA-256 make a re-upload find its job."""

    __tablename__ = "import_jobs"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    file: Mapped[str] = mapped_column(String(16), primary_key=True, server_default="grants")
    file_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(Id, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_ok: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_total: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    started_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
