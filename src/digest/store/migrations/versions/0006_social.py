"""social posts: when a part's first attempt began

The duplicate-content reconciliation on X accepts only a post made within the part's
own attempt window (from its first attempt on), never an identical older post.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("social_posts") as batch:
        batch.add_column(sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("social_posts") as batch:
        batch.drop_column("attempted_at")
