"""The migrations build exactly the models' schema, and tear it down again."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import SAWarning

from mailcapture.db import migrate, schema
from mailcapture.db.engine import make_engine
from mailcapture.db.models import Base

#: The models' indexes on an expression (``lower(code)``): SQLAlchemy cannot reflect them
#: from SQLite (it warns and skips them, and alembic skips them in the comparison), so the
#: tests below check by name that the migrations built them there.
EXPRESSION_INDEXES = {"ix_indicators_code_lower", "ix_people_email_lower"}


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
            )
            warnings.filterwarnings(
                "ignore", "autogenerate skipping metadata-specified expression-based index"
            )
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _expression_indexes(url: str) -> set[str]:
    """The expression indexes the database holds, read from its own catalogue."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            return {name for (name,) in conn.execute(text(query))} & EXPRESSION_INDEXES
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_matches_models_exactly(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    assert _diff(empty_db_url) == []
    assert _tables(empty_db_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _expression_indexes(empty_db_url) == EXPRESSION_INDEXES


def test_downgrade_to_base_removes_everything(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) <= {"alembic_version"}
    assert _expression_indexes(empty_db_url) == set()
    migrate.upgrade(empty_db_url)
    assert _diff(empty_db_url) == []
    assert _expression_indexes(empty_db_url) == EXPRESSION_INDEXES


def test_an_empty_database_has_differences(empty_db_url: str) -> None:
    """Guards the test above: the comparison does see a missing schema."""
    assert _diff(empty_db_url) != []


def test_the_schema_check_knows_alembics_head(empty_db_url: str) -> None:
    """Commands check the schema without alembic: its constant must be alembic's head."""
    assert migrate.head_revision(empty_db_url) == schema.HEAD_REVISION
    engine = make_engine(empty_db_url)
    try:
        assert schema.current_revision(engine) is None
        with pytest.raises(
            schema.SchemaError, match="no mailcapture schema: run `mailcapture init`"
        ):
            schema.require_current(engine)
        migrate.upgrade(empty_db_url, "0001")
        with pytest.raises(schema.SchemaError, match="schema is at 0001, this release needs"):
            schema.require_current(engine)
        migrate.upgrade(empty_db_url)
        assert schema.current_revision(engine) == schema.HEAD_REVISION
        schema.require_current(engine)
    finally:
        engine.dispose()
