"""The ``sample_register`` fixture's copy of a template is the very database a load makes.

Many tests start from the sample register copied out of a template (tests/conftest.py)
instead of loading it themselves; this is what makes that honest, on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import migrate
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.models import Person, RegisterLoad
from mailcapture.register.loader import load_folder
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.snapshots import snapshot


@pytest.mark.parametrize(
    "now",
    [datetime(2026, 4, 20, 12, 0, tzinfo=UTC), as_utc(datetime(2026, 3, 20, 12, 0))],
    ids=["utc", "local"],
)
def test_a_copied_template_equals_a_load(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    empty_db_url: str,
    now: datetime,
) -> None:
    copied = sample_register.load(sessions, now)
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        loaded = load_folder(CONFIG_DIR, session_factory(engine), now)
        expected = snapshot(engine)
    finally:
        engine.dispose()
    got = snapshot(sessions.kw["bind"])
    assert got == expected
    assert len(got[Person.__tablename__]) > 10  # the register is there, not two empty ones
    assert (copied.changes.as_dict(), copied.digest, copied.load_id) == (
        loaded.changes.as_dict(),
        loaded.digest,
        loaded.load_id,
    )


def test_only_into_a_fresh_database(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    when = datetime(2026, 4, 20, tzinfo=UTC)
    sample_register.load(sessions, when)
    with pytest.raises(AssertionError, match="fresh database; rows in"):
        sample_register.load(sessions, when)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(RegisterLoad)) == 1  # still the one
