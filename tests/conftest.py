"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``MAILCAPTURE_TEST_POSTGRES_URL`` (default: the local server this
machine kind runs). Each test gets a fresh database cloned from a migrated template, so
tests are isolated and may commit. Outside CI an unreachable server skips the PostgreSQL
half with the reason; with ``CI=true`` it is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import migrate
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.resources import sample_register
from mailcapture.settings import normalise_database_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CONFIG_DIR = sample_register()
CORPUS = Path(__file__).parent / "corpus"


def _pg_admin_url() -> str:
    return normalise_database_url(os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_PG_URL))


class PostgresServer:
    """Creates throw-away databases on the test server, from a migrated template."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"mc_{uuid.uuid4().hex[:8]}"
        self.template: str | None = None
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _create(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return self.url_for(name)

    def empty_database(self) -> str:
        return self._create(f"{self.prefix}_{uuid.uuid4().hex[:8]}")

    def migrated_database(self) -> str:
        if self.template is None:
            name = f"{self.prefix}_template"
            migrate.upgrade(self._create(name))
            self.template = name
        return self._create(f"{self.prefix}_{uuid.uuid4().hex[:8]}", self.template)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        for name in reversed(self.created):
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    url = _pg_admin_url()
    try:
        server = PostgresServer(url)
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {make_url(url).render_as_string()}: " + (
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    yield server
    server.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database on each backend."""
    if backend == "sqlite":
        path = tmp_path / "mailcapture.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.migrated_database()


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all (for migration tests and ``init``)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.empty_database()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the ``mailcapture`` command against the test database."""
    env = {
        "MAILCAPTURE_DATABASE_URL": db_url,
        "MAILCAPTURE_CONFIG": str(CONFIG_DIR),
        "MAILCAPTURE_MAIL_DIR": str(tmp_path / "outbox"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILCAPTURE_SMTP_URL", raising=False)
    return env
