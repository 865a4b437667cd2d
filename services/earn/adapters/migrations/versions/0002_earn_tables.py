"""Earn tables: rule revisions and usage, purchases and returns, grants, behaviours, offers,
thanks (messages, replies, monthly allowances).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "behaviour_events",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("behaviour", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("program_id", "event_id", name=op.f("pk_behaviour_events")),
    )
    op.create_index(
        "ix_behaviour_events_period",
        "behaviour_events",
        ["program_id", "account_id", "rule_id", "period_start"],
        unique=False,
    )
    op.create_table(
        "grant_recipients",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "account_id", name=op.f("pk_grant_recipients")),
    )
    op.create_table(
        "grants",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("criterion_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("point_kind", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sponsor_funded", sa.Boolean(), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_grants_points")),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_grants")),
    )
    op.create_index(op.f("ix_grants_program_id"), "grants", ["program_id"], unique=False)
    op.create_table(
        "member_offers",
        sa.Column("offer_issue_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("trigger_event", sa.String(length=255), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_event", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("offer_issue_id", name=op.f("pk_member_offers")),
    )
    op.create_index(
        "ix_member_offers_member", "member_offers", ["program_id", "account_id"], unique=False
    )
    op.create_table(
        "purchase_returns",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("return_id", sa.String(length=255), nullable=False),
        sa.Column("purchase_id", sa.String(length=255), nullable=False),
        sa.Column("returned_yen", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("program_id", "return_id", name=op.f("pk_purchase_returns")),
    )
    op.create_table(
        "purchases",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("purchase_id", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("returned_by_line", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("credits", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("returned_yen", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("rules_generation", sa.BigInteger(), nullable=False),
        sa.Column("offer_issue_id", sa.String(length=64), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_purchases_amount_yen")),
        sa.CheckConstraint(
            "points_reversed BETWEEN 0 AND points_earned", name=op.f("ck_purchases_points_reversed")
        ),
        sa.CheckConstraint(
            "returned_yen BETWEEN 0 AND amount_yen", name=op.f("ck_purchases_returned_yen")
        ),
        sa.PrimaryKeyConstraint("program_id", "purchase_id", name=op.f("pk_purchases")),
    )
    op.create_index(
        "ix_purchases_member",
        "purchases",
        ["program_id", "account_id", "occurred_at", "purchase_id"],
        unique=False,
    )
    op.create_table(
        "rule_revisions",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "generation", name=op.f("pk_rule_revisions")),
    )
    op.create_table(
        "rule_usage",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_rule_usage_points")),
        sa.PrimaryKeyConstraint("program_id", "rule_id", "account_id", name=op.f("pk_rule_usage")),
    )
    op.create_table(
        "thanks",
        sa.Column("thanks_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("receiver_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_thanks_points")),
        sa.CheckConstraint("sender_id <> receiver_id", name=op.f("ck_thanks_not_self")),
        sa.PrimaryKeyConstraint("thanks_id", name=op.f("pk_thanks")),
    )
    op.create_index(
        "ix_thanks_timeline", "thanks", ["program_id", "sent_at", "thanks_id"], unique=False
    )
    op.create_table(
        "thanks_allowances",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("given", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("given >= 0", name=op.f("ck_thanks_allowances_given")),
        sa.PrimaryKeyConstraint(
            "program_id", "account_id", "month", name=op.f("pk_thanks_allowances")
        ),
    )
    op.create_table(
        "thanks_replies",
        sa.Column("reply_id", sa.String(length=64), nullable=False),
        sa.Column("thanks_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reply_id", name=op.f("pk_thanks_replies")),
    )
    op.create_index(
        "ix_thanks_replies_thread", "thanks_replies", ["thanks_id", "sent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_thanks_replies_thread", table_name="thanks_replies")
    op.drop_table("thanks_replies")
    op.drop_table("thanks_allowances")
    op.drop_index("ix_thanks_timeline", table_name="thanks")
    op.drop_table("thanks")
    op.drop_table("rule_usage")
    op.drop_table("rule_revisions")
    op.drop_index("ix_purchases_member", table_name="purchases")
    op.drop_table("purchases")
    op.drop_table("purchase_returns")
    op.drop_index("ix_member_offers_member", table_name="member_offers")
    op.drop_table("member_offers")
    op.drop_index(op.f("ix_grants_program_id"), table_name="grants")
    op.drop_table("grants")
    op.drop_table("grant_recipients")
    op.drop_index("ix_behaviour_events_period", table_name="behaviour_events")
    op.drop_table("behaviour_events")
