"""Engines and sessions, with the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite turn on foreign keys, WAL and a busy timeout.

    The busy timeout is sqlite3's ``timeout`` (30 s unless ``connect_args`` says otherwise):
    how long a writer waits for another one before giving up.

    SQLite ignores foreign keys unless asked, and without WAL a reader blocks the one
    writer: the service reads while it ingests, so both are needed.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if "timeout" not in parsed.query:
            kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin: the module's
    # own implicit BEGIN breaks SAVEPOINTs, which idempotent queueing relies on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock at the start of every transaction (``BEGIN IMMEDIATE``).

    SQLite allows one writer. A deferred transaction that reads and then writes fails at
    once ("database is locked") if another process wrote in between; an immediate one
    waits its turn (busy timeout) instead, so two processes claiming outbox rows or
    ingesting mail simply take turns.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _is_memory(dbapi_connection: Any) -> bool:
    cursor = dbapi_connection.cursor()
    try:
        rows = cursor.execute("PRAGMA database_list").fetchall()
    finally:
        cursor.close()
    return all(not row[2] for row in rows)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session
