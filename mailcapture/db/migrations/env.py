"""Alembic environment: runs migrations on the URL given by mailcapture.db.migrate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context

from mailcapture.db.engine import make_engine
from mailcapture.db.models import Base

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # mailcapture.db.migrate always sets one: never guess a database
        raise SystemExit("no database URL given to the migrations")
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `mailcapture init`")
run_migrations_online()
