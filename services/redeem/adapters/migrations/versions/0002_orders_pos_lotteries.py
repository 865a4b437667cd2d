"""Orders with their saga state and step log, POS discounts, lotteries and entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
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
        "lotteries",
        sa.Column("lottery_id", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("prizes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("entry_cost_points", sa.BigInteger(), nullable=False),
        sa.Column("max_entries_per_member", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draw_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seed_commitment", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'drawn')", name=op.f("ck_lotteries_status")),
        sa.CheckConstraint(
            "closes_at > opens_at AND draw_at >= closes_at", name=op.f("ck_lotteries_window")
        ),
        sa.CheckConstraint("entry_cost_points > 0", name=op.f("ck_lotteries_entry_cost_points")),
        sa.CheckConstraint(
            "max_entries_per_member > 0", name=op.f("ck_lotteries_max_entries_per_member")
        ),
        sa.PrimaryKeyConstraint("lottery_id", name=op.f("pk_lotteries")),
    )
    op.create_index(
        "ix_lotteries_program_id_created_at",
        "lotteries",
        ["program_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("payment_token", sa.String(length=255), nullable=False),
        sa.Column("lottery_id", sa.String(length=32), nullable=False),
        sa.Column("shipping_fee_points", sa.BigInteger(), nullable=False),
        sa.Column("priced_lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("items_points", sa.BigInteger(), nullable=False),
        sa.Column("total_points", sa.BigInteger(), nullable=False),
        sa.Column("points_paid", sa.BigInteger(), nullable=True),
        sa.Column("yen_paid", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("capture_tx_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("failure_reason", sa.String(length=64), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=False),
        sa.Column("failure_code", sa.Integer(), nullable=False),
        sa.Column("failure_field", sa.String(length=128), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("completed", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("undone", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("in_doubt", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=32), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("cancel_reason", sa.String(length=200), nullable=False),
        sa.Column("refund_tx_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(phase = 'done') = (status NOT IN ('pending', 'cancelling'))",
            name=op.f("ck_orders_done"),
        ),
        sa.CheckConstraint("kind IN ('purchase', 'prize')", name=op.f("ck_orders_kind")),
        sa.CheckConstraint(
            "phase IN ('forward', 'compensating', 'cancelling', 'done')",
            name=op.f("ck_orders_phase"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'failed', 'cancelling', 'cancelled', 'shipped', "
            "'delivered')",
            name=op.f("ck_orders_status"),
        ),
        sa.CheckConstraint(
            "total_points >= 0 AND yen_paid >= 0 AND (points_paid IS NULL OR points_paid >= 0)",
            name=op.f("ck_orders_amounts"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "program_id", "idempotency_key", name=op.f("uq_orders_program_id_idempotency_key")
        ),
    )
    op.create_index(
        "ix_orders_program_id_created_at", "orders", ["program_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_orders_program_id_member_id_created_at",
        "orders",
        ["program_id", "member_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_orders_running_lease_until",
        "orders",
        ["lease_until"],
        unique=False,
        postgresql_where="phase <> 'done'",
    )
    op.create_table(
        "pos_discounts",
        sa.Column("discount_id", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=128), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("void_transaction_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points > 0", name=op.f("ck_pos_discounts_points")),
        sa.PrimaryKeyConstraint("discount_id", name=op.f("pk_pos_discounts")),
        sa.UniqueConstraint(
            "program_id", "sale_id", name=op.f("uq_pos_discounts_program_id_sale_id")
        ),
    )
    op.create_table(
        "lottery_entries",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("lottery_id", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("debit_tx_id", sa.String(length=64), nullable=False),
        sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("prize_sku", sa.String(length=64), nullable=False),
        sa.Column("prize_order_id", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lottery_id"], ["lotteries.lottery_id"], name="fk_lottery_entries_lottery_id_lotteries"
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_lottery_entries")),
    )
    op.create_index(
        "ix_lottery_entries_lottery_id_member_id",
        "lottery_entries",
        ["lottery_id", "member_id"],
        unique=False,
    )
    op.create_table(
        "order_steps",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name="fk_order_steps_order_id_orders"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_order_steps")),
    )
    op.create_index("ix_order_steps_order_id_seq", "order_steps", ["order_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_steps_order_id_seq", table_name="order_steps")
    op.drop_table("order_steps")
    op.drop_index("ix_lottery_entries_lottery_id_member_id", table_name="lottery_entries")
    op.drop_table("lottery_entries")
    op.drop_table("pos_discounts")
    op.drop_index(
        "ix_orders_running_lease_until", table_name="orders", postgresql_where="phase <> 'done'"
    )
    op.drop_index("ix_orders_program_id_member_id_created_at", table_name="orders")
    op.drop_index("ix_orders_program_id_created_at", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_lotteries_program_id_created_at", table_name="lotteries")
    op.drop_table("lotteries")
