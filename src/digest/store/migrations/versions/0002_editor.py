"""editor: the edition's overlay of edits, headline/preheader/note, fingerprint, history

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headline", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("preheader", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("overlay", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("composed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "edition_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["edition_id"], ["editions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("edition_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_edition_events_edition_id"), ["edition_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("edition_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edition_events_edition_id"))
    op.drop_table("edition_events")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        for name in (
            "composed_at",
            "revision",
            "fingerprint",
            "overlay",
            "note",
            "preheader",
            "headline",
        ):
            batch_op.drop_column(name)
