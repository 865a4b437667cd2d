"""Plumbing retention indexes: sent outbox rows by sent_at, inbox rows by processed_at, for
the retention purge (runtime/retention.py). Built concurrently (plumbing_migration.upgrade_v2).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from runtime.db import plumbing_migration

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    plumbing_migration.upgrade_v2()


def downgrade() -> None:
    plumbing_migration.downgrade_v2()
