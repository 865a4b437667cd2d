"""Items, stock movements, reservations, gift codes, redemption history, item requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ITEM_TYPES = "('physical', 'experience', 'egift', 'donation', 'lottery_prize')"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("category", sa.String(64), nullable=False, server_default=""),
        sa.Column("item_type", sa.String(16), nullable=False),
        sa.Column("price_points", sa.BigInteger(), nullable=False),
        sa.Column("image_urls", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("available_from", sa.DateTime(timezone=True)),
        sa.Column("available_until", sa.DateTime(timezone=True)),
        sa.Column("max_per_member", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shipping_fee_points", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("unlimited", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("on_hand", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("reserved", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("item_id", name="pk_items"),
        sa.UniqueConstraint("program_id", "sku", name="uq_items_program_id_sku"),
        sa.CheckConstraint(f"item_type IN {ITEM_TYPES}", name="ck_items_item_type"),
        sa.CheckConstraint("status IN ('active', 'inactive', 'archived')", name="ck_items_status"),
        sa.CheckConstraint("price_points BETWEEN 0 AND 1000000000", name="ck_items_price_points"),
        sa.CheckConstraint("shipping_fee_points >= 0", name="ck_items_shipping_fee_points"),
        sa.CheckConstraint("max_per_member >= 0", name="ck_items_max_per_member"),
        sa.CheckConstraint("on_hand >= 0 AND reserved >= 0", name="ck_items_stock_not_negative"),
        sa.CheckConstraint(
            "unlimited OR reserved <= on_hand", name="ck_items_reserved_within_on_hand"
        ),
        sa.CheckConstraint(
            "available_until IS NULL OR available_from IS NULL OR available_until > available_from",
            name="ck_items_window",
        ),
    )
    for columns in (
        ["program_id", "title", "item_id"],
        ["program_id", "price_points", "item_id"],
        ["program_id", "created_at", "item_id"],
    ):
        op.create_index(f"ix_items_{'_'.join(columns)}", "items", columns)
    _create_trigram_index()

    op.create_table(
        "stock_movements",
        sa.Column("movement_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("movement_id", name="pk_stock_movements"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.item_id"], name="fk_stock_movements_item_id_items"
        ),
    )
    op.create_index(
        "ix_stock_movements_item_id_created_at", "stock_movements", ["item_id", "created_at"]
    )

    op.create_table(
        "stock_reservations",
        sa.Column("reservation_id", sa.String(32), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_points", sa.BigInteger(), nullable=False),
        sa.Column("release_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("reservation_id", name="pk_stock_reservations"),
        sa.UniqueConstraint(
            "program_id", "order_id", name="uq_stock_reservations_program_id_order_id"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'committed', 'released')", name="ck_stock_reservations_status"
        ),
        sa.CheckConstraint(
            "(status = 'open') = (settled_at IS NULL)", name="ck_stock_reservations_settled_at"
        ),
    )
    op.create_index(
        "ix_stock_reservations_program_id_member_id",
        "stock_reservations",
        ["program_id", "member_id"],
    )
    op.create_index(
        "ix_stock_reservations_open_expiry",
        "stock_reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # One terminal state, enforced here and not only in code: a committed reservation can never
    # be released (or committed again), a released one never committed.
    op.execute(
        """
        CREATE FUNCTION stock_reservation_settles_once() RETURNS trigger AS $$
        BEGIN
            IF OLD.status <> 'open' THEN
                RAISE EXCEPTION 'reservation % is already %', OLD.reservation_id, OLD.status
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER stock_reservations_settle_once
            BEFORE UPDATE ON stock_reservations
            FOR EACH ROW EXECUTE FUNCTION stock_reservation_settles_once()
        """
    )

    op.create_table(
        "stock_reservation_lines",
        sa.Column("reservation_id", sa.String(32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("item_type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reservation_id", "line_no", name="pk_stock_reservation_lines"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["stock_reservations.reservation_id"],
            name="fk_stock_reservation_lines_reservation_id_stock_reservations",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.item_id"], name="fk_stock_reservation_lines_item_id_items"
        ),
        sa.CheckConstraint(
            "quantity BETWEEN 1 AND 1000", name="ck_stock_reservation_lines_quantity"
        ),
    )
    op.create_index("ix_stock_reservation_lines_item_id", "stock_reservation_lines", ["item_id"])

    op.create_table(
        "gift_codes",
        sa.Column("code_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reservation_id", sa.String(32)),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("code_id", name="pk_gift_codes"),
        sa.UniqueConstraint("program_id", "code", name="uq_gift_codes_program_id_code"),
        sa.ForeignKeyConstraint(["item_id"], ["items.item_id"], name="fk_gift_codes_item_id_items"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["stock_reservations.reservation_id"],
            name="fk_gift_codes_reservation_id_stock_reservations",
        ),
        sa.CheckConstraint("status IN ('available', 'issued')", name="ck_gift_codes_status"),
        sa.CheckConstraint(
            "(status = 'issued') = (reservation_id IS NOT NULL)", name="ck_gift_codes_issued_to"
        ),
    )
    op.create_index(
        "ix_gift_codes_available",
        "gift_codes",
        ["item_id", "code_id"],
        postgresql_where=sa.text("status = 'available'"),
    )
    op.create_index("ix_gift_codes_reservation_id", "gift_codes", ["reservation_id"])
    # A code given out stays given out to that reservation, whatever code runs later.
    op.execute(
        """
        CREATE FUNCTION gift_code_issued_once() RETURNS trigger AS $$
        BEGIN
            IF OLD.status = 'issued' THEN
                RAISE EXCEPTION 'gift code % was already given out', OLD.code_id
                    USING ERRCODE = 'check_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER gift_codes_issued_once
            BEFORE UPDATE OR DELETE ON gift_codes
            FOR EACH ROW EXECUTE FUNCTION gift_code_issued_once()
        """
    )

    op.create_table(
        "redeemed_items",
        sa.Column("redemption_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("group_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("tier_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("redemption_id", name="pk_redeemed_items"),
    )
    for column in ("member_id", "sku", "group_id", "tier_id"):
        op.create_index(
            f"ix_redeemed_items_program_id_{column}", "redeemed_items", ["program_id", column]
        )

    op.create_table(
        "item_requests",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False, server_default=""),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_sku", sa.String(64), nullable=False, server_default=""),
        sa.Column("resolution_note", sa.String(1000), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("request_id", name="pk_item_requests"),
        sa.CheckConstraint(
            "status IN ('open', 'added', 'declined')", name="ck_item_requests_status"
        ),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL)", name="ck_item_requests_resolved_at"
        ),
    )
    op.create_index(
        "ix_item_requests_program_id_created_at_request_id",
        "item_requests",
        ["program_id", "created_at", "request_id"],
    )


def _create_trigram_index() -> None:
    """A trigram index for substring search (Japanese included), if pg_trgm can be had.

    pg_trgm is a trusted extension (PostgreSQL 13+), so a database owner may create it. Where
    it is missing or not permitted, search still works (LIKE over the program's items), only
    slower on large catalogs.
    """
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    except DBAPIError:
        return
    # Another service may have created it first, in another schema: use it where it is.
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one_or_none()
    if schema is None:
        return
    op.execute(
        "CREATE INDEX ix_items_search_text_trgm ON items "
        f'USING gin (search_text "{schema}".gin_trgm_ops)'
    )


def downgrade() -> None:
    op.drop_table("item_requests")
    op.drop_table("redeemed_items")
    op.execute("DROP TRIGGER gift_codes_issued_once ON gift_codes")
    op.execute("DROP FUNCTION gift_code_issued_once()")
    op.drop_table("gift_codes")
    op.drop_table("stock_reservation_lines")
    op.execute("DROP TRIGGER stock_reservations_settle_once ON stock_reservations")
    op.execute("DROP FUNCTION stock_reservation_settles_once()")
    op.drop_table("stock_reservations")
    op.drop_table("stock_movements")
    op.drop_table("items")
    # pg_trgm stays: other services may use it, and it holds no data.
