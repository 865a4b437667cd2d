"""Earn's purchases and returns for campaign comparisons; the per-period campaign table goes.

`billing_campaign_results` (0002, never filled) summed campaigns per month, which cannot give
distinct participants over a campaign's window nor the non-participants who bought in it.
Billing now keeps one row per purchase and per return and aggregates when asked.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _program() -> sa.Column[str]:
    return sa.Column("program_id", sa.String(64), nullable=False)


def upgrade() -> None:
    op.drop_table("billing_campaign_results")
    op.create_table(
        "billing_purchases",
        _program(),
        sa.Column("purchase_id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("rule_points", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "purchase_id", name="pk_billing_purchases"),
    )
    op.create_index(
        "ix_billing_purchases_program_id_occurred_at",
        "billing_purchases",
        ["program_id", "occurred_at"],
    )
    op.create_table(
        "billing_purchase_returns",
        _program(),
        sa.Column("return_id", sa.String(255), nullable=False),
        sa.Column("purchase_id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("returned_yen", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("rule_points_reversed", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "return_id", name="pk_billing_purchase_returns"),
    )
    op.create_index(
        "ix_billing_purchase_returns_program_id_purchase_id",
        "billing_purchase_returns",
        ["program_id", "purchase_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_billing_purchase_returns_program_id_purchase_id", table_name="billing_purchase_returns"
    )
    op.drop_table("billing_purchase_returns")
    op.drop_index("ix_billing_purchases_program_id_occurred_at", table_name="billing_purchases")
    op.drop_table("billing_purchases")
    op.create_table(
        "billing_campaign_results",
        _program(),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("purchases", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("purchase_yen", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("points_granted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("members", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "program_id", "period", "campaign_id", name="pk_billing_campaign_results"
        ),
    )
