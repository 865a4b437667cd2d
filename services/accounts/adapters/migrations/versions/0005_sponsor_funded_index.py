"""Sponsor-funded journal index: billing's reconciliation sums a program's sponsor-funded
credits and clawbacks per month (GetSponsorFundedTotals) from this partial index alone, instead
of reading every transaction of the month from the heap.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_tx_sponsor_time",
        "ledger_transactions",
        ["program_id", "occurred_at"],
        postgresql_include=["type", "amount"],
        postgresql_where=sa.text("sponsor_funded"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_tx_sponsor_time", table_name="ledger_transactions")
