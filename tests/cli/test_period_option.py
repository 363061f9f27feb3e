"""``--period`` with a quarter or a year covers the periods inside it, on every command that
takes it (issue 15, part 11), through the real command line on both databases.

Figures are stored against the period they were asked for: a monthly component's against
its month. ``export values --period "2026/27 Q1"`` used to match the quarter's own code
only, and printed the header alone although April's rows were there.

The 2026/27 figures come in as a real reply (Kevin Walsh answers April 2026's request by
email); the 2025/26 ones are the sample register's history (months and quarters).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period, periods_within
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.snapshots import run_cli

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
Q1_2025 = {"2025/26 Q1", "2025-04", "2025-05", "2025-06"}


@pytest.fixture
def loaded(
    cli_env: dict[str, str], sample_register: SampleRegister
) -> Iterator[tuple[dict[str, str], sessionmaker[Session]]]:
    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    sessions = session_factory(engine)
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    yield cli_env, sessions
    engine.dispose()


def _exported(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    result = run_cli("export", "values", *args, env=env)
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _reply_for_april(sessions: sessionmaker[Session]) -> None:
    """April 2026's requests go out on 1 May; Kevin answers BV8a's two components."""
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    with sessions() as s:
        request_raw = s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
            .where(
                m.OutboxMessage.kind == "request", m.Person.email == "kevin.walsh@ashdown.example"
            )
        ).one()
    pipeline = Pipeline(sessions, FixedClock(as_utc(datetime(2026, 5, 5, 9, 0))))
    top = "BV8a.1: 1,234\nBV8a.2: 1,300\n\nFigures for April."
    result = pipeline.ingest(
        clients.gmail_top_posted(request_raw, KEVIN, top), Envelope(source="test")
    )
    assert result.outcome == "applied", result


def test_periods_within() -> None:
    """The helper every command's ``--period`` goes through: the period, then what is inside
    it, each parent before its children."""
    codes = [p.code for p in periods_within(parse_period("2026/27"))]
    assert codes[:6] == ["2026/27", "2026/27 Q1", "2026-04", "2026-05", "2026-06", "2026/27 Q2"]
    assert len(codes) == 1 + 4 + 12 and codes[-1] == "2027-03"
    assert [p.code for p in periods_within(parse_period("Q4 2026/27"))] == [
        "2026/27 Q4",
        "2027-01",
        "2027-02",
        "2027-03",
    ]
    assert periods_within(parse_period("May 2026")) == [parse_period("2026-05")]


@pytest.mark.db
def test_export_values_for_a_quarter_or_a_year_has_the_months(loaded) -> None:
    env, sessions = loaded
    _reply_for_april(sessions)

    april = [
        (r["period"], r["code"], r["value"], r["status"])
        for r in _exported(env, "--period", "2026-04")
        if r["code"].startswith("BV8a")
    ]
    assert april == [
        ("2026-04", "BV8a.1", "1234", "accepted"),
        ("2026-04", "BV8a.2", "1300", "accepted"),
    ]
    everything = _exported(env)
    in_2026 = [r for r in everything if parse_period(r["period"]).fy == 2026]
    for spelling in ["2026/27 Q1", "Apr-Jun 2026", "2026/27", "FY 2026-27"]:
        rows = _exported(env, "--period", spelling)
        assert rows == in_2026, spelling  # the same rows, in the same order, as unfiltered
        assert {(r["period"], r["code"]) for r in rows} >= {
            ("2026-04", "BV8a.1"),
            ("2026-04", "BV8a.2"),
        }
    assert _exported(env, "--period", "2026/27 Q2") == []

    # The history: a quarter holds its months and its own quarterly figures; the year all.
    q1 = _exported(env, "--period", "2025/26 Q1", "--format", "csv")
    assert {r["period"] for r in q1} == Q1_2025
    year = _exported(env, "--period", "2025/26")
    assert {r["period"] for r in year} == {r["period"] for r in everything} - {"2026-04"}
    assert {r["period"] for r in year} >= Q1_2025 | {"2026-03", "2025/26 Q4"}
    as_json = run_cli("export", "values", "--period", "2025/26 Q1", "--format", "json", env=env)
    assert as_json.code == 0, as_json.stderr
    assert len(json.loads(as_json.stdout)) == len(q1)


@pytest.mark.db
def test_every_period_option_covers_the_periods_inside(loaded, tmp_path) -> None:
    env, _ = loaded
    # export indicators: the quarter in full (every indicator), then its months with values
    # (the monthly indicators, as the export without --period lists them).
    result = run_cli("export", "indicators", "--period", "2025/26 Q1", "--format", "json", env=env)
    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["period"] for r in rows} == Q1_2025
    assert rows[0]["period"] == "2025/26 Q1"
    bv8a = [(r["period"], r["value"]) for r in rows if r["indicator"] == "BV8a"]
    assert bv8a == [
        ("2025/26 Q1", "97.4"),
        ("2025-04", "97.4"),
        ("2025-05", "96.8"),
        ("2025-06", "97.9"),
    ]
    # BV9 is collected quarterly: it has the quarter's row and no month's.
    assert [r["period"] for r in rows if r["indicator"] == "BV9"] == ["2025/26 Q1"]

    # target list: a year's listing has the quarter targets set inside it (BV9's).
    listed = run_cli("target", "list", "--period", "2026/27", env=env)
    assert listed.code == 0, listed.stderr
    bv9 = [line for line in listed.stdout.splitlines() if " BV9 " in line]
    shown = [next(p for p in ("Q1", "Q2", "Q3", "Q4", "/27 ") if p in line) for line in bv9]
    assert shown == ["/27 ", "Q1", "Q2", "Q3", "Q4"], listed.stdout
    quarter = run_cli("target", "list", "--period", "2026/27 Q1", env=env)
    assert " BV9 " in quarter.stdout and "29.7" in quarter.stdout
    assert "97.9" not in quarter.stdout  # the year's target is not inside the quarter

    # Every --period is read the same way: one line naming the option, exit 1.
    for command in (
        ("export", "values"),
        ("export", "indicators"),
        ("target", "list"),
        ("publish", "--out", str(tmp_path / "site")),
        ("returns",),
    ):
        refused = run_cli(*command, "--period", "Q1 2026", env=env)
        assert refused.code == 1, command
        assert refused.stderr.startswith("mailcapture: error: --period: 'Q1 2026' is ambiguous")
        assert refused.stderr.count("\n") == 1, refused.stderr
