"""Plumbing tables: outbox, inbox, idempotency keys, program configs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from runtime.db import plumbing_migration

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    plumbing_migration.create_v1()


def downgrade() -> None:
    plumbing_migration.drop_v1()
