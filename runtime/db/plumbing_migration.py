"""Migration steps for the plumbing tables every service has.

These functions are frozen once released: a service's first revision calls `create_v1()`; a
later change to the plumbing tables gets a new function (`upgrade_v2()`/`downgrade_v2()`) that
each service's next revision calls. Never edit a released step.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_v1() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("event_id", name="pk_outbox_events"),
    )
    op.create_index(
        "ix_outbox_events_unsent",
        "outbox_events",
        ["created_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "inbox_events",
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_events"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("program_id", "scope", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "program_configs",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("record", postgresql.JSONB(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("program_id", name="pk_program_configs"),
    )


def upgrade_v2() -> None:
    """The indexes the retention purge reads (runtime/retention.py): sent outbox rows by when
    they were sent, inbox rows by when they were applied. Built CONCURRENTLY, outside the
    migration's transaction: until this step nothing was ever deleted from either table, so a
    running system's may be large, and a plain CREATE INDEX would stop its writes meanwhile.
    A build that fails leaves an INVALID index behind; drop it before migrating again."""
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_outbox_events_sent",
            "outbox_events",
            ["sent_at"],
            postgresql_where=sa.text("sent_at IS NOT NULL"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "ix_inbox_events_processed_at",
            "inbox_events",
            ["processed_at"],
            postgresql_concurrently=True,
        )


def downgrade_v2() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_inbox_events_processed_at", table_name="inbox_events", postgresql_concurrently=True
        )
        op.drop_index(
            "ix_outbox_events_sent", table_name="outbox_events", postgresql_concurrently=True
        )


def drop_v1() -> None:
    op.drop_table("program_configs")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("inbox_events")
    op.drop_index("ix_outbox_events_unsent", table_name="outbox_events")
    op.drop_table("outbox_events")
