"""Charges, members, usage counters, tier changes, invoices (immutable once finalized).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUSES = "('draft', 'finalized', 'paid', 'void')"
PERIOD = sa.String(7)


def _now() -> sa.TextClause:
    return sa.text("now()")


def _program() -> sa.Column[str]:
    return sa.Column("program_id", sa.String(64), nullable=False)


def upgrade() -> None:
    op.create_table(
        "billing_programs",
        _program(),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("program_id", name="pk_billing_programs"),
    )
    op.create_table(
        "billed_members",
        _program(),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("external_ref", sa.String(128), nullable=False, server_default=""),
        sa.Column("enrolled_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("status_changed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("program_id", "account_id", name="pk_billed_members"),
    )
    op.create_index(
        "ix_billed_members_program_id_enrolled_at", "billed_members", ["program_id", "enrolled_at"]
    )
    op.create_table(
        "billing_member_activity",
        _program(),
        sa.Column("period", PERIOD, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "program_id", "period", "account_id", name="pk_billing_member_activity"
        ),
    )
    op.create_table(
        "point_charges",
        sa.Column("charge_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        _program(),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_period", PERIOD, nullable=False),
        sa.Column("billed_period", PERIOD, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("unit_yen", sa.BigInteger(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("reversal", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("charge_id", name="pk_point_charges"),
        sa.UniqueConstraint("event_id", name="uq_point_charges_event_id"),
    )
    op.create_index(
        "ix_point_charges_program_id_billed_period",
        "point_charges",
        ["program_id", "billed_period"],
    )
    op.create_index(
        "ix_point_charges_program_id_occurred_at", "point_charges", ["program_id", "occurred_at"]
    )
    op.create_table(
        "billing_usage_counters",
        _program(),
        sa.Column("period", PERIOD, nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "program_id", "period", "metric", "key", name="pk_billing_usage_counters"
        ),
    )
    op.create_table(
        "billing_tier_changes",
        _program(),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("tier_id", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "event_id", name="pk_billing_tier_changes"),
    )
    op.create_index(
        "ix_billing_tier_changes_program_id_account_id_changed_at",
        "billing_tier_changes",
        ["program_id", "account_id", "changed_at"],
    )
    _create_invoices()
    op.create_table(
        "invoice_counters",
        _program(),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", name="pk_invoice_counters"),
    )
    op.create_table(
        "billing_campaign_results",
        _program(),
        sa.Column("period", PERIOD, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("purchases", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("purchase_yen", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("points_granted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("members", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "program_id", "period", "campaign_id", name="pk_billing_campaign_results"
        ),
    )
    _create_immutability_triggers()


def _create_invoices() -> None:
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(32), nullable=False),
        _program(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", PERIOD, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("number", sa.String(100)),
        sa.Column("corrects_invoice_id", sa.String(32)),
        sa.Column("subtotal_yen", sa.BigInteger(), nullable=False),
        sa.Column("tax_yen", sa.BigInteger(), nullable=False),
        sa.Column("total_yen", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_percent", sa.Integer(), nullable=False),
        sa.Column("tax_rounding", sa.String(8), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("facts", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("finalized_at", sa.DateTime(timezone=True)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("payment_reference", sa.String(200), nullable=False, server_default=""),
        sa.Column("voided_at", sa.DateTime(timezone=True)),
        sa.Column("void_reason", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("invoice_id", name="pk_invoices"),
        sa.ForeignKeyConstraint(
            ["corrects_invoice_id"],
            ["invoices.invoice_id"],
            name="fk_invoices_corrects_invoice_id_invoices",
        ),
        sa.UniqueConstraint("program_id", "number", name="uq_invoices_program_id_number"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_invoices_status"),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name="ck_invoices_kind"),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name="ck_invoices_numbered_when_final"
        ),
        sa.CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="ck_invoices_paid_at"),
        sa.CheckConstraint(
            "(status = 'void') = (voided_at IS NOT NULL)", name="ck_invoices_voided_at"
        ),
        sa.CheckConstraint(
            "(kind = 'credit_note') = (corrects_invoice_id IS NOT NULL)",
            name="ck_invoices_credit_note_ref",
        ),
        sa.CheckConstraint("total_yen = subtotal_yen + tax_yen", name="ck_invoices_total"),
    )
    op.create_index("ix_invoices_program_id_period", "invoices", ["program_id", "period"])
    op.create_index(
        "uq_invoices_live_period",
        "invoices",
        ["program_id", "period"],
        unique=True,
        postgresql_where=sa.text("kind = 'invoice' AND status <> 'void'"),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.String(32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_yen", sa.BigInteger(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "line_no", name="pk_invoice_lines"),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.invoice_id"], name="fk_invoice_lines_invoice_id_invoices"
        ),
    )


# A finalized invoice is a legal document: only its payment or cancellation may be recorded,
# and its lines never change. Enforced here too, so no code path (or psql session) can edit it.
INVOICE_GUARD = """
CREATE FUNCTION invoices_guard() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'invoice % is %: it cannot be deleted', OLD.invoice_id, OLD.status
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status = 'draft' THEN
    IF NEW.status NOT IN ('draft', 'finalized') THEN
      RAISE EXCEPTION 'a draft invoice can only be finalized, not %', NEW.status
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status <> 'finalized' OR NEW.status NOT IN ('paid', 'void')
     OR (NEW.invoice_id, NEW.program_id, NEW.kind, NEW.period, NEW.number,
         NEW.corrects_invoice_id, NEW.subtotal_yen, NEW.tax_yen, NEW.total_yen,
         NEW.tax_rate_percent, NEW.tax_rounding, NEW.time_zone, NEW.facts, NEW.reason,
         NEW.created_at, NEW.finalized_at)
        IS DISTINCT FROM
        (OLD.invoice_id, OLD.program_id, OLD.kind, OLD.period, OLD.number,
         OLD.corrects_invoice_id, OLD.subtotal_yen, OLD.tax_yen, OLD.total_yen,
         OLD.tax_rate_percent, OLD.tax_rounding, OLD.time_zone, OLD.facts, OLD.reason,
         OLD.created_at, OLD.finalized_at) THEN
    RAISE EXCEPTION 'invoice % is %: it is immutable (issue a credit note instead)',
      OLD.invoice_id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
"""

LINES_GUARD = """
CREATE FUNCTION invoice_lines_guard() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  parent text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT status INTO parent FROM invoices WHERE invoice_id = OLD.invoice_id;
    IF parent IS DISTINCT FROM 'draft' THEN
      RAISE EXCEPTION 'lines of invoice % (%) are immutable', OLD.invoice_id, parent
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT status INTO parent FROM invoices WHERE invoice_id = NEW.invoice_id;
    IF parent IS DISTINCT FROM 'draft' THEN
      RAISE EXCEPTION 'lines of invoice % (%) are immutable', NEW.invoice_id, parent
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$;
"""


def _create_immutability_triggers() -> None:
    op.execute(INVOICE_GUARD)
    op.execute(
        "CREATE TRIGGER invoices_guard BEFORE UPDATE OR DELETE ON invoices "
        "FOR EACH ROW EXECUTE FUNCTION invoices_guard()"
    )
    op.execute(LINES_GUARD)
    op.execute(
        "CREATE TRIGGER invoice_lines_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines "
        "FOR EACH ROW EXECUTE FUNCTION invoice_lines_guard()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS invoice_lines_guard ON invoice_lines")
    op.execute("DROP TRIGGER IF EXISTS invoices_guard ON invoices")
    op.execute("DROP FUNCTION IF EXISTS invoice_lines_guard()")
    op.execute("DROP FUNCTION IF EXISTS invoices_guard()")
    for table in (
        "billing_campaign_results",
        "invoice_counters",
        "invoice_lines",
        "invoices",
        "billing_tier_changes",
        "billing_usage_counters",
        "point_charges",
        "billing_member_activity",
        "billed_members",
        "billing_programs",
    ):
        op.drop_table(table)
