"""Alembic environment: runs against the connection digest hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from digest.store.tables import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # `alembic` on the command line: use sqlalchemy.url
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///out/digest.db")
    with engine.begin() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()
