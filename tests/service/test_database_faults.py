"""Telling a database fault from our own, and getting past one without a restart.

``is_database_fault`` decides whether an error is waited out (the message stays
``received``, the worker backs off) or recorded against the message (``failed``); the
engine's pre-ping replaces a pooled connection that the server has dropped.
"""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from mailcapture.db.engine import database_answers, is_database_fault, make_engine
from tests.conftest import PostgresServer


def _wrapped(kind: type[Exception], orig: Exception) -> Exception:
    return kind("SELECT 1", {}, orig)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (_wrapped(OperationalError, psycopg.OperationalError("connection refused")), True),
        (_wrapped(OperationalError, sqlite3.OperationalError("database is locked")), True),
        (_wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (sqlite3.OperationalError("disk I/O error"), True),
        (_wrapped(IntegrityError, psycopg.IntegrityError("duplicate key")), False),
        (_wrapped(DataError, psycopg.DataError("invalid byte sequence")), False),
        (KeyError("a bug of ours"), False),
        (ValueError("not a number"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_which_errors_are_the_database(error: Exception, fault: bool) -> None:
    assert is_database_fault(error) is fault


def test_an_error_raised_while_handling_a_lost_connection_is_the_lost_connection() -> None:
    """A ``KeyError`` raised in an ``except`` for a dropped connection (or ``from`` it)
    happened because of the outage: waited out, not recorded against the message."""
    lost = _wrapped(OperationalError, psycopg.OperationalError("terminating connection"))
    try:
        try:
            raise lost
        except OperationalError:
            raise KeyError("while cleaning up") from None
    except KeyError as exc:
        assert exc.__context__ is lost
        assert is_database_fault(exc)
    caused = RuntimeError("wrapped")
    caused.__cause__ = lost
    assert is_database_fault(caused)


def test_the_pool_pings_connections_on_both_databases(engine: Engine) -> None:
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    assert database_answers(engine)


def test_a_connection_the_server_dropped_is_replaced_before_use(postgres: PostgresServer) -> None:
    """PostgreSQL ends the backend of a pooled connection (as a restart does); the next
    transaction gets a fresh connection from the ping instead of an error. (SQLite has no
    server to drop a connection.)"""
    url = postgres.empty_database()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with postgres.admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
        postgres.discard(str(make_url(url).database))


def test_a_database_that_is_not_there_does_not_answer() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        assert not database_answers(engine)
    finally:
        engine.dispose()
