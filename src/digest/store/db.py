"""Open the store and bring its schema up to date with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class Store:
    """An engine and a session factory; every write goes through ``session()``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def scratch(self) -> Iterator[Session]:
        """A unit of work that is always rolled back: previews change nothing."""
        with self._sessions() as session, session.begin():
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # hide_parameters: a database error or log line never carries the values bound to
    # it (subscribers' addresses and names)
    engine = create_engine(url, future=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


SQLITE_BUSY_TIMEOUT_MS = 30000


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets the web app read while a sender writes; busy_timeout waits out short locks.
    # synchronous=NORMAL: in WAL mode a commit survives the process being killed (only
    # power loss can undo the last commits, which at worst resends a message).
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy's "begin" event open every transaction itself (below), instead of
    # the driver's implicit deferred BEGIN before the first write.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Every transaction takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads first and writes later cannot wait for the lock:
    when another writer committed since its read, SQLite answers "database is locked" at
    once and busy_timeout never applies. Taking the lock at BEGIN makes concurrent
    writers queue for up to busy_timeout instead. Readers in WAL mode are never blocked
    by it for long: transactions here are short.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine) -> None:
    """Apply every pending Alembic migration."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")  # branches from parallel work merge here


def open_store(url: str, migrate: bool = True) -> Store:
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return Store(engine)
