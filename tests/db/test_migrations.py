"""The migrations build exactly the models' schema, and tear it down again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from mailcapture.db import migrate, schema
from mailcapture.db.engine import make_engine
from mailcapture.db.models import Base


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
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


def test_downgrade_to_base_removes_everything(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


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
