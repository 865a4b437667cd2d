"""Expiry reminders: which lots a points_expiring_soon event already announced.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expiry_reminders",
        sa.Column("lot_id", sa.String(36), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column(
            "announced_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("lot_id", name="pk_expiry_reminders"),
    )


def downgrade() -> None:
    op.drop_table("expiry_reminders")
