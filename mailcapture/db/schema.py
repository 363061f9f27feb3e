"""Is the database at this release's schema? Checked with one query, without alembic.

Every command that reads the database checks this first. It must be cheap: alembic (and the
scan of the migration scripts it does to find the head) takes longer to import than most
commands take to run, so the head revision is a constant here, and a test checks that it is
alembic's head (``tests/db/test_migrations.py``). ``mailcapture init`` is the only command
that needs alembic itself (:mod:`mailcapture.db.migrate`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from mailcapture.errors import UserError

#: The newest migration in ``mailcapture/db/migrations/versions``; update it with each one.
HEAD_REVISION = "0007"

INIT_HINT = "run `mailcapture init` first"


class SchemaError(UserError):
    """The database is missing, has no mailcapture schema, or is older than this release."""


def current_revision(engine: Engine) -> str | None:
    """The revision alembic recorded, or ``None`` when the database has no schema at all."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if _no_such_table(exc):
            return None
        raise


def _no_such_table(exc: Exception) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in message or ("relation" in message and "does not exist" in message)


def require_existing(engine: Engine) -> None:
    """Refuse a SQLite URL whose file does not exist: reading must never create a database."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if url.database.startswith("file:"):  # a URI filename: SQLite itself decides
        return
    if not Path(url.database).is_file():
        raise SchemaError(
            f"no database at {url.database}: {INIT_HINT} (or set MAILCAPTURE_DATABASE_URL)"
        )


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that ``mailcapture init`` has not brought up to date."""
    require_existing(engine)
    current = current_revision(engine)
    if current is None:
        raise SchemaError(f"the database has no mailcapture schema: {INIT_HINT}")
    if current != HEAD_REVISION:
        raise SchemaError(
            f"the database schema is at {current}, this release needs {HEAD_REVISION}: "
            "run `mailcapture init` to upgrade"
        )
