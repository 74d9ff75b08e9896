"""delivery: per-message claims with a lease, the edition's delivery deadline

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claim_expires", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_deliveries_due", ["edition_id", "status", "next_attempt_at"], unique=False
        )
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deliver_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("delivery_noticed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("delivery_noticed_at")
        batch_op.drop_column("deliver_until")
        batch_op.drop_column("send_started_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.drop_column("claim_expires")
        batch_op.drop_column("claimed_by")
