"""Parked events: events of a program billing has no config for yet, and poison events.

Before, such an event was nak'ed and redelivered until the program's config arrived: a hot
loop when it never does, and head-of-line delay for every other program on the durable. Now
the consumer stores the raw event here and acks it; applying the config replays the program's
parked events in stream order through the same handlers (the inbox keeps them exactly-once).
An event that keeps failing is parked with reason `poison` and its error, for an operator.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_parked_events",
        sa.Column("durable", sa.String(64), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("headers", JSONB(), nullable=False, server_default="{}"),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("durable", "stream_seq", name="pk_billing_parked_events"),
    )
    op.create_index(
        "ix_billing_parked_events_program_id_reason_stream_seq",
        "billing_parked_events",
        ["program_id", "reason", "stream_seq"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_billing_parked_events_program_id_reason_stream_seq",
        table_name="billing_parked_events",
    )
    op.drop_table("billing_parked_events")
