"""Returned reservations: a confirmed order cancelled before shipment gives its units back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "stock_reservations"
STATUS_CHECK = "ck_stock_reservations_status"


# The transitions the database allows: open -> committed | released (0002), and now
# committed -> returned, once. Every other update of a settled reservation is refused.
SETTLES_ONCE = """
    CREATE OR REPLACE FUNCTION stock_reservation_settles_once() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'open' THEN
            RETURN NEW;
        END IF;
        IF {returnable} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'reservation % is already %', OLD.reservation_id, OLD.status
            USING ERRCODE = 'check_violation';
    END
    $$ LANGUAGE plpgsql
"""
RETURNABLE = "OLD.status = 'committed' AND NEW.status = 'returned'"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(STATUS_CHECK, TABLE, type_="check")
    op.create_check_constraint(
        STATUS_CHECK, TABLE, "status IN ('open', 'committed', 'released', 'returned')"
    )
    op.execute(SETTLES_ONCE.format(returnable=RETURNABLE))


def downgrade() -> None:
    # A returned reservation's units are already back on hand; calling it committed again
    # would misstate the stock history, so refuse rather than rewrite it.
    returned = (
        op.get_bind()
        .execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE status = 'returned'"))
        .scalar_one()
    )
    if returned:
        raise RuntimeError(
            f"{returned} reservations are 'returned'; revision 0002 cannot represent them"
        )
    op.execute(SETTLES_ONCE.format(returnable="false"))
    op.drop_constraint(STATUS_CHECK, TABLE, type_="check")
    op.create_check_constraint(STATUS_CHECK, TABLE, "status IN ('open', 'committed', 'released')")
    op.drop_column(TABLE, "returned_at")
