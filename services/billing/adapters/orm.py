"""The billing service's tables (schema `billing`), all keyed by program.

Everything here is derived from events (accounts': charges, members, usage counters, tier
changes; earn's: purchases and returns, for campaign comparisons) or made by billing itself
(invoices, their lines, number sequences). Finalized invoices and their lines are immutable:
triggers (migration 0002) refuse the change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base

Program = String(64)
AccountId = String(64)
ClientId = String(255)  # earn's client ids (purchase and return ids)
PeriodText = String(7)  # "YYYY-MM"
Instant = DateTime(timezone=True)
STATUSES = "('draft', 'finalized', 'paid', 'void')"


class BillingProgramRow(Base):
    """When billing started for a program: the default contract start and first period."""

    __tablename__ = "billing_programs"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    started_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())


class MemberRow(Base):
    __tablename__ = "billed_members"
    __table_args__ = (Index(None, "program_id", "enrolled_at"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    account_id: Mapped[str] = mapped_column(AccountId, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(128), server_default="")
    enrolled_at: Mapped[datetime | None] = mapped_column(Instant)
    closed_at: Mapped[datetime | None] = mapped_column(Instant)
    # The newest status change applied, so an older one arriving late changes nothing.
    status_changed_at: Mapped[datetime | None] = mapped_column(Instant)


class MemberActivityRow(Base):
    """A member moved points in a period (the report's "active members")."""

    __tablename__ = "billing_member_activity"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    period: Mapped[str] = mapped_column(PeriodText, primary_key=True)
    account_id: Mapped[str] = mapped_column(AccountId, primary_key=True)


class ChargeRow(Base):
    """Sponsor-funded points charged (a credit) or credited back (a reversal: negative)."""

    __tablename__ = "point_charges"
    __table_args__ = (
        Index(None, "program_id", "billed_period"),
        Index(None, "program_id", "occurred_at"),
    )

    charge_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    program_id: Mapped[str] = mapped_column(Program)
    account_id: Mapped[str] = mapped_column(AccountId)
    transaction_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    # The event's period, and the invoice's period it was billed on (later when the event's
    # own period was already finalized).
    occurred_period: Mapped[str] = mapped_column(PeriodText)
    billed_period: Mapped[str] = mapped_column(PeriodText)
    points: Mapped[int] = mapped_column(BigInteger)
    unit_yen: Mapped[int] = mapped_column(BigInteger)
    amount_yen: Mapped[int] = mapped_column(BigInteger)
    reversal: Mapped[bool] = mapped_column(Boolean)
    source_key: Mapped[str] = mapped_column(String(200))


class UsageCounterRow(Base):
    __tablename__ = "billing_usage_counters"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    period: Mapped[str] = mapped_column(PeriodText, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class TierChangeRow(Base):
    __tablename__ = "billing_tier_changes"
    __table_args__ = (Index(None, "program_id", "account_id", "changed_at"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(AccountId)
    tier_id: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(Instant)


class InvoiceRow(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("program_id", "number"),
        Index(None, "program_id", "period"),
        # One live invoice per period; a void one makes room for its replacement.
        Index(
            "uq_invoices_live_period",
            "program_id",
            "period",
            unique=True,
            postgresql_where=text("kind = 'invoice' AND status <> 'void'"),
        ),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="numbered_when_final"),
        CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="paid_at"),
        CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name="voided_at"),
        CheckConstraint(
            "(kind = 'credit_note') = (corrects_invoice_id IS NOT NULL)", name="credit_note_ref"
        ),
        CheckConstraint("total_yen = subtotal_yen + tax_yen", name="total"),
    )

    invoice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(PeriodText)
    status: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(100))
    corrects_invoice_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("invoices.invoice_id")
    )
    subtotal_yen: Mapped[int] = mapped_column(BigInteger)
    tax_yen: Mapped[int] = mapped_column(BigInteger)
    total_yen: Mapped[int] = mapped_column(BigInteger)
    tax_rate_percent: Mapped[int] = mapped_column(Integer)
    tax_rounding: Mapped[str] = mapped_column(String(8))
    time_zone: Mapped[str] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
    finalized_at: Mapped[datetime | None] = mapped_column(Instant)
    paid_at: Mapped[datetime | None] = mapped_column(Instant)
    payment_reference: Mapped[str] = mapped_column(String(200), server_default="")
    voided_at: Mapped[datetime | None] = mapped_column(Instant)
    void_reason: Mapped[str] = mapped_column(Text, server_default="")


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("invoices.invoice_id"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_yen: Mapped[int] = mapped_column(BigInteger)
    amount_yen: Mapped[int] = mapped_column(BigInteger)


class InvoiceCounterRow(Base):
    """The last document number given in a program (invoices and credit notes share it, so
    numbers have no gaps)."""

    __tablename__ = "invoice_counters"

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger)


class CampaignPurchaseRow(Base):
    """A purchase earn recorded (`purchase_recorded`), for CompareCampaigns: who bought, when,
    how much, and the extra points each earn rule or campaign gave (`rule_points`: {id: points}).
    One row per purchase id; returns are separate rows, so they may arrive first."""

    __tablename__ = "billing_purchases"
    __table_args__ = (Index(None, "program_id", "occurred_at"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    purchase_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    account_id: Mapped[str] = mapped_column(AccountId)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    amount_yen: Mapped[int] = mapped_column(BigInteger)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    rule_points: Mapped[dict[str, int]] = mapped_column(JSONB)


class CampaignReturnRow(Base):
    """A return of a purchase (`purchase_returned`): the yen returned and each rule's or
    campaign's share of the points reversed (`rule_points_reversed`: {id: points})."""

    __tablename__ = "billing_purchase_returns"
    __table_args__ = (Index(None, "program_id", "purchase_id"),)

    program_id: Mapped[str] = mapped_column(Program, primary_key=True)
    return_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    purchase_id: Mapped[str] = mapped_column(ClientId)
    account_id: Mapped[str] = mapped_column(AccountId)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    returned_yen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    rule_points_reversed: Mapped[dict[str, int]] = mapped_column(JSONB)


class ParkedEventRow(Base):
    """An event billing stored instead of applying: its program has no config on billing yet
    (`reason` unconfigured: replayed when the config is applied) or it kept failing (`poison`,
    with its `error`: kept for an operator). Raw as it came from the stream, keyed by the
    durable and stream sequence, so a redelivery parks nothing twice."""

    __tablename__ = "billing_parked_events"
    __table_args__ = (Index(None, "program_id", "reason", "stream_seq"),)

    durable: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    program_id: Mapped[str] = mapped_column(Program)
    event_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    reason: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, server_default="")
    parked_at: Mapped[datetime] = mapped_column(Instant, server_default=func.now())
