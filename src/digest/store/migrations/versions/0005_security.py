"""security: per-edition recipient-marker nonce

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "" = the bare markers of editions stored before nonces (they still send as before)
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("markers", sa.String(length=32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("markers")
