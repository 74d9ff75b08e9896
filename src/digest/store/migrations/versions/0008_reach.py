"""reach: tracked links and aggregate clicks

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("edition_id", sa.Integer(), sa.ForeignKey("editions.id"), nullable=False),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("section", sa.String(length=300), nullable=False),
        sa.Column("group", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("edition_id", "link"),
    )
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), sa.ForeignKey("editions.id"), nullable=False),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clicks_edition_link", "clicks", ["edition_id", "link"])
    op.create_table(
        "social_counts",
        sa.Column("edition_id", sa.Integer(), sa.ForeignKey("editions.id"), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("edition_id", "platform", "part"),
    )
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("click_tracking", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("click_tracking")
    op.drop_table("social_counts")
    op.drop_index("ix_clicks_edition_link", table_name="clicks")
    op.drop_table("clicks")
    op.drop_table("links")
