"""Schema creation and upgrade through alembic, from code (``mailcapture init``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from mailcapture.resources import package_dir


class SchemaError(RuntimeError):
    """The database schema is missing or older than this release."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(package_dir("db", "migrations")))
    # '%' in passwords would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(engine: Engine, database_url: str) -> None:
    """Refuse to work on a database that ``mailcapture init`` has not brought up to date."""
    current = current_revision(engine)
    head = head_revision(database_url)
    if current is None:
        raise SchemaError("the database has no mailcapture schema: run `mailcapture init` first")
    if current != head:
        raise SchemaError(
            f"the database schema is at {current}, this release needs {head}: "
            "run `mailcapture init` to upgrade"
        )
