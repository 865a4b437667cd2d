"""Member profiles (phone, birth date, attributes, several groups), primary identifiers,
manual tier end dates, group descriptions, news audiences and announcements.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "members", sa.Column("phone", sa.String(length=32), server_default="", nullable=False)
    )
    op.add_column("members", sa.Column("birth_date", sa.Date(), nullable=True))
    op.add_column(
        "members",
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "members", sa.Column("manual_tier_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_members_program_joined",
        "members",
        ["program_id", "joined_at", "member_id"],
        unique=False,
    )
    op.create_index(
        "ix_members_merged_into",
        "members",
        ["merged_into"],
        unique=False,
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    )

    op.add_column(
        "identifiers",
        sa.Column("is_primary", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "ix_identifiers_one_primary",
        "identifiers",
        ["member_id", "kind"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )

    op.create_table(
        "member_groups",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "group_id", name=op.f("pk_member_groups")),
    )
    op.create_index(
        "ix_member_groups_group",
        "member_groups",
        ["program_id", "group_id", "member_id"],
        unique=False,
    )
    # Members had one group until now; it becomes their first membership.
    op.execute(
        "INSERT INTO member_groups (member_id, group_id, program_id) "
        "SELECT member_id, group_id, program_id FROM members WHERE group_id IS NOT NULL"
    )

    op.add_column(
        "groups",
        sa.Column("description", sa.String(length=1000), server_default="", nullable=False),
    )
    op.add_column(
        "groups",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "groups",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index("ix_groups_program_parent", "groups", ["program_id", "parent_id"], unique=False)

    op.add_column(
        "news_posts",
        sa.Column(
            "group_ids",
            postgresql.ARRAY(sa.String(length=36)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    op.add_column(
        "news_posts", sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "news_posts",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    # Posts that existed before announcements were tracked count as announced.
    op.execute("UPDATE news_posts SET announced_at = publish_at WHERE publish_at <= now()")
    op.create_index(
        "ix_news_unannounced",
        "news_posts",
        ["publish_at"],
        unique=False,
        postgresql_where=sa.text("announced_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_news_unannounced",
        table_name="news_posts",
        postgresql_where=sa.text("announced_at IS NULL"),
    )
    op.drop_column("news_posts", "created_at")
    op.drop_column("news_posts", "announced_at")
    op.drop_column("news_posts", "group_ids")

    op.drop_index("ix_groups_program_parent", table_name="groups")
    op.drop_column("groups", "updated_at")
    op.drop_column("groups", "created_at")
    op.drop_column("groups", "description")

    # Keep one group per member (the column 0002 knows) before the memberships go.
    op.execute(
        "UPDATE members m SET group_id = (SELECT min(g.group_id) FROM member_groups g "
        "WHERE g.member_id = m.member_id) WHERE m.group_id IS NULL"
    )
    op.drop_index("ix_member_groups_group", table_name="member_groups")
    op.drop_table("member_groups")

    op.drop_index(
        "ix_identifiers_one_primary",
        table_name="identifiers",
        postgresql_where=sa.text("is_primary"),
    )
    op.drop_column("identifiers", "is_primary")

    op.drop_index(
        "ix_members_merged_into",
        table_name="members",
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    )
    op.drop_index("ix_members_program_joined", table_name="members")
    op.drop_column("members", "manual_tier_until")
    op.drop_column("members", "attributes")
    op.drop_column("members", "birth_date")
    op.drop_column("members", "phone")
