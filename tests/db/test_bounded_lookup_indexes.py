"""Migration 0007: the indexes that keep per-message lookups bounded exist on both databases.

Without them the loop check, ``process_batch``'s wait check and the hourly counts of one kind
of automatic mail read every message a sender ever sent (or the whole outbox), so the cost
of a message grew with the number stored (see the migration's docstring).
"""

from __future__ import annotations

from sqlalchemy import inspect

from mailcapture.db import migrate
from mailcapture.db.engine import make_engine

#: table -> index name -> its columns, in order.
EXPECTED = {
    "inbound_messages": {
        "ix_inbound_messages_sender_received": ["sender", "received_at"],
        "ix_inbound_messages_sender_state": ["sender", "state"],
    },
    "outbox_messages": {"ix_outbox_messages_kind_created": ["kind", "created_at"]},
}


def _indexes(url: str) -> dict[str, dict[str, list[str | None]]]:
    """The named indexes of the tables above, with their columns, as the database has them."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {
                str(ix["name"]): list(ix["column_names"]) for ix in inspector.get_indexes(table)
            }
            for table in EXPECTED
        }
    finally:
        engine.dispose()


def test_the_migrated_database_has_the_indexes(db_url: str) -> None:
    found = _indexes(db_url)
    for table, wanted in EXPECTED.items():
        for name, columns in wanted.items():
            assert found[table].get(name) == columns, (table, name, found[table])


def test_0007_adds_them_and_its_downgrade_removes_them(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0006")
    before = _indexes(empty_db_url)
    for table, wanted in EXPECTED.items():
        assert not set(wanted) & set(before[table])
    migrate.upgrade(empty_db_url, "0007")
    after = _indexes(empty_db_url)
    for table, wanted in EXPECTED.items():
        assert {name: after[table].get(name) for name in wanted} == wanted
    migrate.downgrade(empty_db_url, "0006")
    assert _indexes(empty_db_url) == before
