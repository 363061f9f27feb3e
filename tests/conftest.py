"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``MAILCAPTURE_TEST_POSTGRES_URL`` (default: the local server this
machine kind runs). Each test gets a fresh database cloned from a migrated template, so
tests are isolated and may commit. Outside CI an unreachable server skips the PostgreSQL
half with the reason; with ``CI=true`` it is a failure, so CI can never pass by skipping.

The suite runs in parallel (pytest-xdist, see ``addopts`` in pyproject.toml). Each worker
has its own templates: SQLite files under its own temporary directory, and PostgreSQL
databases whose names start with ``mc_<worker id>_<random>``, so workers (and several test
runs on one server) never touch each other's databases. A test's PostgreSQL database is
dropped after the test, in the background and in batches (see :class:`PostgresServer`),
and whatever is left, the templates among it, when the worker ends; the SQLite templates
are removed then too.

Loading the sample register takes a second or more, and many tests start from it. The
:func:`sample_register` fixture loads it once per worker, backend and ``now`` into a template
and copies that template into a test's fresh database instead: the same rows, ids and times
that loading it there would have written.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import migrate
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.models import Base
from mailcapture.register.loader import LoadResult, load_folder
from mailcapture.resources import sample_register as sample_register_folder
from mailcapture.settings import normalise_database_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CONFIG_DIR = sample_register_folder()
CORPUS = Path(__file__).parent / "corpus"
#: This process's xdist worker id (``gw0``, ``gw1``, ...), or ``main`` without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin_url() -> str:
    return normalise_database_url(os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_PG_URL))


#: Databases dropped together. PostgreSQL 15 makes every ``DROP DATABASE`` wait for a
#: checkpoint, seconds on a busy machine; drops that run at the same time share one.
DROP_BATCH = 8


class PostgresServer:
    """Creates throw-away databases on the test server, from templates of this worker.

    A test's database is dropped after it, by a background thread in batches of
    :data:`DROP_BATCH` at a time (one checkpoint for each batch instead of one per database),
    so no test waits for it and at most a batch of finished tests' databases is left about.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=DROP_BATCH
        )
        self.prefix = f"mc_{WORKER.lower()}_{uuid.uuid4().hex[:8]}"
        self.template: str | None = None
        self.templates: list[str] = []
        self._doomed: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None

    def url_for(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def new_name(self, kind: str = "") -> str:
        return f"{self.prefix}_{kind}{uuid.uuid4().hex[:8]}"

    def _create(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url_for(name)

    def empty_database(self) -> str:
        return self._create(self.new_name())

    def migrated_template(self) -> str:
        """The name of this worker's migrated, empty template (made on first use)."""
        if self.template is None:
            name = f"{self.prefix}_template"
            self.templates.append(name)
            migrate.upgrade(self._create(name))
            self.template = name
        return self.template

    def migrated_database(self) -> str:
        return self.clone(self.migrated_template())

    def clone(self, template: str) -> str:
        """A new database copied from ``template`` (which nobody may be connected to)."""
        return self._create(self.new_name(), template)

    def new_template(self, kind: str) -> str:
        """A migrated database to fill and then use as a template; dropped at the end."""
        name = self.new_name(kind)
        self._create(name, self.migrated_template())
        self.templates.append(name)
        return name

    def replace(self, name: str, template: str) -> None:
        """Make database ``name`` a fresh copy of ``template``, keeping its name (and URL).

        The old database is renamed out of the way (nobody may be connected to it) and
        dropped with the next batch.
        """
        old = self.new_name("old_")
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{old}"'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.discard(old)

    def discard(self, name: str) -> None:
        """Drop ``name`` with the next batch, in the background."""
        if self._dropper is None:
            self._dropper = threading.Thread(
                target=self._drop_doomed, name="drop-test-databases", daemon=True
            )
            self._dropper.start()
        self._doomed.put(name)

    def _drop_doomed(self) -> None:
        batch: list[str] = []
        while (name := self._doomed.get()) is not None:
            batch.append(name)
            if len(batch) >= DROP_BATCH:
                self._drop_together(batch)
                batch = []
        self._drop_together(batch)

    def _drop_together(self, names: list[str]) -> None:
        """Drop ``names`` at the same time, so that their checkpoints coincide."""
        if names:
            with ThreadPoolExecutor(max_workers=DROP_BATCH) as pool:
                list(pool.map(self._drop_quietly, names))

    def _drop_quietly(self, name: str) -> None:
        with contextlib.suppress(Exception):  # close() finds what is left and tries again
            self.drop(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        """Drop every database this worker made, the templates among them."""
        if self._dropper is not None:
            self._doomed.put(None)
            self._dropper.join()
        with self.admin.connect() as conn:
            left = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"),
                {"prefix": self.prefix.replace("_", r"\_") + r"\_%"},
            ).all()
        for start in range(0, len(left), DROP_BATCH):
            with ThreadPoolExecutor(max_workers=DROP_BATCH) as pool:
                list(pool.map(self.drop, left[start : start + DROP_BATCH]))
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
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This worker's folder of SQLite templates (xdist gives each worker its own base
    temporary directory); removed when the worker ends."""
    folder = tmp_path_factory.mktemp("templates")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(sqlite_templates: Path) -> Path:
    path = sqlite_templates / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database on each backend."""
    if backend == "sqlite":
        path = tmp_path / "mailcapture.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.migrated_database()
    yield url
    server.discard(str(make_url(url).database))


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (for migration tests and ``init``)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.empty_database()
    yield url
    server.discard(str(make_url(url).database))


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


# ------------------------------------------------------------ the sample register, loaded


#: (backend, repr(now)) -> (template: an SQLite path or a PostgreSQL database name, its load).
#: ``repr``, not the instant: the same instant in another time zone could be stored otherwise.
LoadedTemplates = dict[tuple[str, str], tuple[str, LoadResult]]


@pytest.fixture(scope="session")
def loaded_templates() -> LoadedTemplates:
    """This worker's templates with the sample register loaded, made on first use."""
    return {}


def _rows_in(engine: Engine) -> list[str]:
    """The tables of ``engine``'s database that have any row, in one statement."""
    tables = Base.metadata.sorted_tables
    counts = [select(func.count()).select_from(table).scalar_subquery() for table in tables]
    with engine.connect() as conn:
        row = conn.execute(select(*counts)).one()
    return [table.name for table, count in zip(tables, row, strict=True) if count]


class SampleRegister:
    """``load(sessions, now)``: what ``load_folder(CONFIG_DIR, sessions, now)`` does to a
    fresh test database, done by copying a template in which exactly that load was run.

    Only for the unmodified sample register into a database nothing was written to (checked):
    tests that load another folder, load twice or load into a database with rows in it
    call ``load_folder`` themselves. ``loaded_at``, the targets' ``updated_at`` and the
    history's ``received_at`` come from ``now``, the ``source`` is ``CONFIG_DIR`` and the ids
    follow from a fresh database, so the copy is the very database the load would have made.
    """

    def __init__(self, backend: str, db_url: str, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        self.db_url = db_url
        self.request = request
        self.templates: LoadedTemplates = request.getfixturevalue("loaded_templates")

    def load(self, sessions: sessionmaker[Session], now: datetime) -> LoadResult:
        engine = sessions.kw["bind"]
        assert isinstance(engine, Engine)
        if engine.url.database != make_url(self.db_url).database:
            raise AssertionError(f"{engine.url} is not this test's database {self.db_url}")
        if rows := _rows_in(engine):
            raise AssertionError(f"the sample register goes into a fresh database; rows in {rows}")
        template, result = self._template(now)
        engine.dispose()
        if self.backend == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(template)) as source,
                contextlib.closing(sqlite3.connect(str(engine.url.database))) as target,
            ):
                source.backup(target)
        else:
            server: PostgresServer = self.request.getfixturevalue("postgres")
            server.replace(str(engine.url.database), template)
        return result

    def _template(self, now: datetime) -> tuple[str, LoadResult]:
        key = (self.backend, repr(now))
        if key not in self.templates:
            if self.backend == "sqlite":
                folder: Path = self.request.getfixturevalue("sqlite_templates")
                path = folder / f"sample-{len(self.templates)}.db"
                shutil.copyfile(self.request.getfixturevalue("sqlite_template"), path)
                name, url = str(path), f"sqlite:///{path}"
            else:
                server: PostgresServer = self.request.getfixturevalue("postgres")
                name = server.new_template("sample_")
                url = server.url_for(name)
            engine = make_engine(url)
            try:
                result = load_folder(CONFIG_DIR, session_factory(engine), now)
            finally:
                engine.dispose()
            self.templates[key] = (name, result)
        return self.templates[key]


@pytest.fixture
def sample_register(backend: str, db_url: str, request: pytest.FixtureRequest) -> SampleRegister:
    """Loads the sample register into this test's database from a template (see above)."""
    return SampleRegister(backend, db_url, request)


# ------------------------------------------------------------ parallel runs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist, start the tests marked ``slow`` first, each followed by a short one.

    A minute-long test that a worker picks up near the end holds up the whole run while
    the other workers idle. xdist hands out tests in collection order, two at a time to
    each worker (``--maxschedchunk 1`` in pyproject.toml), so this order gives each worker
    one long test and one short one to begin with, and the next long tests go to the first
    workers to finish theirs. Each worker collects the same items, so they agree on it.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    ordered: list[pytest.Item] = []
    for item in slow:
        ordered.append(item)
        if rest:
            ordered.append(rest.pop(0))
    items[:] = ordered + rest
