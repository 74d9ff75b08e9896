"""Persistence: SQLite by default, PostgreSQL by changing ``store.url``."""

from digest.store.db import Store, open_store

__all__ = ["Store", "open_store"]
