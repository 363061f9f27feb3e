"""Engines and sessions, with the same behaviour on SQLite and PostgreSQL.

Also the one answer to "was that the database?" (:func:`is_database_fault`) and a cheap probe
(:func:`database_answers`): the service's workers and the pipeline use them to tell a database
outage, which is waited out, from a fault of our own, which is recorded.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite turn on foreign keys, WAL and a busy timeout.

    The busy timeout is sqlite3's ``timeout`` (30 s unless ``connect_args`` says otherwise):
    how long a writer waits for another one before giving up.

    SQLite ignores foreign keys unless asked, and without WAL a reader blocks the one
    writer: the service reads while it ingests, so both are needed.

    Every pooled connection is pinged when it is taken from the pool (``pool_pre_ping``), on
    both databases: after a PostgreSQL restart the pool holds connections to a server that
    is gone, and without the ping the first transaction on each of them fails. With it, a
    dead connection is replaced by a new one, and a disconnect discards the rest of the pool,
    so a service recovers from an outage without a restart. On SQLite the ping is a
    ``SELECT 1`` on the file's connection (outside any transaction, so it takes no lock).
    """
    parsed = make_url(url)
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "sqlite":
        if "timeout" not in parsed.query:
            kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
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


def is_database_fault(exc: BaseException) -> bool:
    """Whether ``exc``, or an error that led to it, means the database could not be used.

    The server gone or refusing connections, a connection dropped mid-transaction, SQLite
    locked past its busy timeout or its file unreadable: ``OperationalError`` and
    ``InterfaceError`` (SQLAlchemy's, or the driver's own when raised bare), a ``DBAPIError``
    whose connection was invalidated, a pool that could not hand out a connection. Such a
    fault says nothing about the message or row in hand, so it is waited out and retried,
    never recorded against it. ``IntegrityError``, ``DataError`` and the like are about the
    data, and are not faults of the database. The chain of causes is followed, so an
    error raised while handling a lost connection counts as the lost connection.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sa_exc.DisconnectionError
            | sa_exc.TimeoutError
            | sqlite3.OperationalError
            | sqlite3.InterfaceError,
        ):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        psycopg = sys.modules.get("psycopg")
        if psycopg is not None and isinstance(
            current, psycopg.OperationalError | psycopg.InterfaceError
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def database_answers(engine: Engine) -> bool:
    """One ``SELECT 1`` on a connection from the pool (pinged, so a fresh one if need be).

    Cheap, and it takes no lock on SQLite (the raw connection runs outside a transaction,
    so the ``BEGIN IMMEDIATE`` of :func:`make_engine` is not issued): it asks whether the
    database can be reached at all, not whether a write would wait.
    """
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()
    except Exception:
        return False
    return True
