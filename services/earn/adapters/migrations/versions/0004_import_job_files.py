"""Import jobs say which kind of file they read (grants or purchases).

The same bytes uploaded as a grant file and as a purchase file are two jobs, so the kind joins
the primary key. Downgrade drops purchase-file jobs (the table could not hold both).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "import_jobs",
        sa.Column("file", sa.String(length=16), server_default="grants", nullable=False),
    )
    op.drop_constraint("pk_import_jobs", "import_jobs", type_="primary")
    op.create_primary_key("pk_import_jobs", "import_jobs", ["program_id", "file", "file_sha256"])


def downgrade() -> None:
    op.execute("DELETE FROM import_jobs WHERE file <> 'grants'")
    op.drop_constraint("pk_import_jobs", "import_jobs", type_="primary")
    op.create_primary_key("pk_import_jobs", "import_jobs", ["program_id", "file_sha256"])
    op.drop_column("import_jobs", "file")
