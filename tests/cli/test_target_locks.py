"""Locks cover targets: ``mailcapture target set`` for a locked period is refused, through the
real command line, on both databases (issue 15, part 7).

The sample register with its 2025/26 history (final figures, so April 2025 can be locked
without sign-offs). BV8a's April 2025 figure is 97.4% against the year's target of 97%:
green. A target of 99% would make it red, so every refusal below is also checked to have
left April's status alone; after ``unlock`` the same change goes through and the status
moves, which is what the lock was protecting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.domain.periods import parse_period
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.values import Rag
from tests.conftest import SampleRegister
from tests.snapshots import Completed, run_cli

TEAM = "martin.shaw@ashdown.example"  # performance team
HEAD = "richard.okafor@ashdown.example"  # head of service, Resources (BV8a)
APRIL = "2025-04"


@pytest.fixture
def loaded(
    cli_env: dict[str, str], sample_register: SampleRegister
) -> Iterator[tuple[dict[str, str], sessionmaker[Session]]]:
    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    sessions = session_factory(engine)
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    yield cli_env, sessions
    engine.dispose()


def _set(env: dict[str, str], period: str, value: str, when: str) -> Completed:
    """``target set`` for BV8a with an amber band of 0.5 points (97.4 against 99: red)."""
    return run_cli(
        *("target", "set", "BV8a", period, value, "--reason", "Supplier system outage"),
        *("--approved-by", HEAD, "--tolerance", "0.5", "--now", when),
        env=env,
    )


def _april(sessions: sessionmaker[Session]) -> tuple[Rag, Decimal | None]:
    """BV8a's status and the target that applies for April 2025, as every report sees it."""
    with sessions() as s:
        [row] = indicator_values(s, parse_period(APRIL), ["BV8a"])
    return row.rag, row.target.value if row.target else None


def _changes(sessions: sessionmaker[Session]) -> list[tuple[str, Decimal | None]]:
    with sessions() as s:
        return [
            (code, new)
            for code, new in s.execute(
                select(m.Period.code, m.TargetChange.new_value)
                .join(m.Period, m.Period.id == m.TargetChange.period_id)
                .order_by(m.TargetChange.id)
            )
        ]


@pytest.mark.db
def test_target_for_a_locked_period_is_refused_until_unlocked(loaded) -> None:
    env, sessions = loaded
    assert _april(sessions) == (Rag.GREEN, Decimal(97))
    locked = run_cli("lock", APRIL, "--by", TEAM, "--now", "2026-05-21T09:00", env=env)
    assert locked.code == 0, locked.stderr

    # The month itself: refused in one line, with the reason, and nothing written.
    month = _set(env, APRIL, "99", "2026-05-22T10:00")
    assert month.code == 1
    assert month.stdout == ""
    assert month.stderr == (
        "mailcapture: error: refused: April 2025 was locked by the performance team on "
        "21 May 2026; BV8a's target for 2025-04 was not changed: unlock 2025-04 first "
        "(mailcapture unlock) if it must change\n"
    )
    # The year's target is April's too (April and Q1 have none of their own): changing it
    # would change the locked month's status just the same.
    year = _set(env, "2025/26", "99", "2026-05-22T10:05")
    assert year.code == 1
    assert year.stderr.startswith(
        "mailcapture: error: refused: April 2025 was locked by the performance team on "
        "21 May 2026 and has no BV8a target of its own, so the 2025/26 target is its target"
    )
    assert year.stderr.count("\n") == 1
    assert _april(sessions) == (Rag.GREEN, Decimal(97))
    assert _changes(sessions) == []

    # Outside the lock nothing changes: Q2's target can still be set.
    q2 = _set(env, "2025/26 Q2", "98", "2026-05-22T10:10")
    assert q2.code == 0, q2.stderr
    assert _changes(sessions) == [("2025/26 Q2", Decimal(98))]

    # Unlocking reopens the target with the values: the same change now goes through.
    reopened = run_cli(
        *("unlock", APRIL, "--by", TEAM, "--reason", "Target revised by Cabinet"),
        *("--now", "2026-05-23T09:00"),
        env=env,
    )
    assert reopened.code == 0, reopened.stderr
    month = _set(env, APRIL, "99", "2026-05-23T10:00")
    assert month.code == 0, month.stderr
    assert "BV8a 2025-04 target 97 -> 99" in month.stdout
    assert _april(sessions) == (Rag.RED, Decimal(99))
    assert _changes(sessions) == [("2025/26 Q2", Decimal(98)), (APRIL, Decimal(99))]


@pytest.mark.db
def test_a_quarter_lock_covers_its_months_targets_and_an_own_target_shields(loaded) -> None:
    env, sessions = loaded
    # Lock Q1: every month in it is closed, so May's target is refused, naming the quarter.
    q1 = run_cli("lock", "2025/26 Q1", "--by", TEAM, "--now", "2026-05-21T09:00", env=env)
    assert q1.code == 0, q1.stderr
    may = _set(env, "2025-05", "99", "2026-05-22T10:00")
    assert may.code == 1
    assert may.stderr == (
        "mailcapture: error: refused: Q1 2025/26 (Apr-Jun 2025) was locked by the performance "
        "team on 21 May 2026; BV8a's target for 2025-05 was not changed: "
        'unlock "2025/26 Q1" first (mailcapture unlock) if it must change\n'
    )
    unlocked = run_cli(
        *("unlock", "2025/26 Q1", "--by", TEAM, "--reason", "Own Q1 target first"),
        *("--now", "2026-05-22T11:00"),
        env=env,
    )
    assert unlocked.code == 0, unlocked.stderr
    # Q1 gets a target of its own, then is locked again: the year's target no longer
    # applies to it, so the year-end target may change without touching locked Q1.
    assert _set(env, "2025/26 Q1", "97", "2026-05-22T11:05").code == 0
    again = run_cli("lock", "2025/26 Q1", "--by", TEAM, "--now", "2026-05-22T11:10", env=env)
    assert again.code == 0, again.stderr
    year = _set(env, "2025/26", "99", "2026-05-22T11:15")
    assert year.code == 0, year.stderr
    assert _april(sessions) == (Rag.GREEN, Decimal(97))  # Q1's own target still applies
