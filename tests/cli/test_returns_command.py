"""``mailcapture returns`` and the site's ``returns.html`` (issue 15, part 10), through the
real command line on both databases.

Before this, who had not replied was visible only in the returns summary email (a working
day after the deadline) or through a database client. The April 2026 round of the sample
register is played as the service would: the requests go out on Friday 1 May (due Friday
15 May, 17:00; reminders 12 and 14 May; escalation to the owners 19 May), and

* Kevin answers everything on 5 May: received;
* Jason answers BV212.2 and says BV212.1 is "n/a until 8 July 2026" on 6 May: one
  received, one promised for 8 July, the rest missing;
* Natalie's request bounces (a DSN, 1 May): her items are bounced, not just missing;
* Amy answers everything on Monday 18 May, after the deadline: late, after two reminders;
* Fiona never answers: missing, two reminders and an escalation.

The expected lines are written out from the register (who is asked for what) and the
timetable (when each chase goes out), not read back from the code under test.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.schedule.tick import tick
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent
from tests.reports.test_publish import Page, require_pango
from tests.snapshots import run_cli

KEVIN = "kevin.walsh@ashdown.example"
AMY = "amy.lawson@ashdown.example"
JASON = "jason.reid@ashdown.example"
NATALIE = "natalie.price@ashdown.example"
FIONA = "fiona.grant@ashdown.example"
AS_AT = "2026-05-20T09:00"

#: What each person is asked for in April 2026 (the sample register), in form order.
ITEMS = {
    KEVIN: ["BV8a.1", "BV8a.2", "P09.M0"],
    AMY: [
        "LCS01.1", "LCS01.2", "LCS02.1", "LCS02.2", "LCS04.1", "BV78a.1", "BV78a.2",
        "BV78b.1", "BV78b.2", "NI181.1", "NI181.2", "ST02.1", "P10.M0", "P10.M2",
    ],
    JASON: [
        "BV212.1", "BV212.2", "BV66a.1", "BV66a.2", "LHM01.1", "LHM01.2", "LHM02.1",
        "LHM02.2", "LHM03.1", "P03.M0", "P03.M2", "P04.M0", "P04.M2", "P05.M0", "P05.M3",
    ],
    NATALIE: ["LLE02.1", "LWR01.1", "LWR01.2", "ST04.1", "P06.M0", "P06.M3", "P07.M0",
              "P07.M2", "P08.M0"],
    FIONA: ["P01.M0", "P01.M2", "P01.M4", "P02.M0", "P02.M2", "P11.M0", "P11.M2", "P12.M0",
            "P12.M2", "P12.M3", "ST03.1"],
}  # fmt: skip
REMINDED = ["2026-05-12", "2026-05-14"]
ESCALATED = ["2026-05-19"]


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return as_utc(datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ))


@functools.cache
def _history() -> dict[str, dict[str, object]]:
    text = (CONFIG_DIR / "history-2025-26.yaml").read_text()
    found: dict[str, dict[str, object]] = YAML(typ="safe").load(text)["history"]
    return found


def _answers(codes: list[str]) -> dict[str, str]:
    """Last April's figure for each component (plausible: never held), "on track" for
    each milestone."""
    return {c: "on track" if ".M" in c else str(_history()[c]["2025-04"]) for c in codes}


def _reply(world: PipelineWorld, email: str, answers: dict[str, str], when: datetime) -> None:
    with world.sessions() as s:
        name = s.scalars(select(m.Person.name).where(m.Person.email == email)).one()
    raw = clients.outlook_in_place(
        world.request_raw(email), f"{name} <{email}>", answers, when=when
    )
    result = world.ingest(raw, at=when)
    assert result.outcome == "applied", result


@pytest.fixture
def april(
    cli_env: dict[str, str], sessions: sessionmaker[Session], sample_register: SampleRegister
) -> dict[str, str]:
    """The April 2026 round played to 20 May (see the module's docstring)."""
    world = april_requests_sent(sessions, sample_register)
    bounce = clients.dsn_bounce(
        world.request_raw(NATALIE), NATALIE, when=_local(date(2026, 5, 1), 9, 5)
    )
    world.ingest(bounce, at=_local(date(2026, 5, 1), 9, 5))
    _reply(world, KEVIN, _answers(ITEMS[KEVIN]), _local(date(2026, 5, 5), 10))
    _reply(
        world,
        JASON,
        {**_answers(["BV212.2"]), "BV212.1": "n/a until 8 July 2026"},
        _local(date(2026, 5, 6), 11),
    )
    for day in (12, 14):
        tick(sessions, _local(date(2026, 5, day), 9))
    _reply(world, AMY, _answers(ITEMS[AMY]), _local(date(2026, 5, 18), 10))
    for day in (18, 19):
        tick(sessions, _local(date(2026, 5, day), 9))
    with sessions() as s:
        failing = s.scalars(select(m.Person.mail_failing_since).where(m.Person.email == NATALIE))
        assert failing.one() is not None  # the bounce was recognised as such
    return cli_env


def _expected() -> list[dict[str, Any]]:
    """(email, item, status, promised_for, reminder days, escalation days) per line."""
    lines = []
    for email, codes in ITEMS.items():
        for code in codes:
            reminded, escalated, promised = REMINDED, ESCALATED, None
            if email == KEVIN:
                status, reminded, escalated = "received", [], []
            elif email == AMY:
                status, escalated = "late", []
            elif email == JASON and code == "BV212.1":
                status, promised = "promised", "2026-07-08"
            elif email == JASON and code == "BV212.2":
                status = "received"
            elif email == NATALIE:
                status = "bounced"
            else:
                status = "missing"
            lines.append(
                {
                    "email": email,
                    "item": code,
                    "status": status,
                    "promised_for": promised,
                    "reminder_dates": reminded,
                    "escalation_dates": escalated,
                }
            )
    return lines


def _json(env: dict[str, str], *args: str, now: str = AS_AT) -> list[dict[str, Any]]:
    result = run_cli("returns", *args, "--format", "json", "--now", now, env=env)
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["email"], row["item"]


def test_returns_lists_each_persons_items_with_status_and_chases(
    april: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    rows = _json(april, "--period", "2026-04")
    assert {r["period"] for r in rows} == {"2026-04"}
    # Natalie's reminders depend on whether reminders still go to a bouncing address (issue
    # 15 part 4, another change): her chase columns are checked against the outbox below.
    shown = [
        {k: r[k] for k in ("email", "item", "status", "promised_for", "reminder_dates",
                           "escalation_dates")}
        for r in rows
    ]  # fmt: skip
    expected = _expected()
    assert _without_natalies_chases(shown) == _without_natalies_chases(expected)
    with sessions() as s:
        to_natalie = s.scalars(
            select(m.OutboxMessage.created_at).where(
                m.OutboxMessage.recipient == NATALIE, m.OutboxMessage.kind == "reminder"
            )
        ).all()
    assert {tuple(r["reminder_dates"]) for r in rows if r["email"] == NATALIE} == {
        tuple(sorted(at.astimezone(LOCAL_TZ).date().isoformat() for at in to_natalie))
    }

    by_key = {_key(r): r for r in rows}
    kevin = by_key[(KEVIN, "BV8a.1")]
    assert kevin["returned_at"] == "2026-05-05T10:00:00+01:00"
    assert kevin["due"] == "2026-05-15T17:00:00+01:00"
    assert (kevin["reminders"], kevin["escalations"]) == (0, 0)
    amy = by_key[(AMY, "P10.M2")]
    assert (amy["status"], amy["returned_at"], amy["reminders"]) == (
        "late",
        "2026-05-18T10:00:00+01:00",
        2,
    )
    fiona = by_key[(FIONA, "ST03.1")]
    assert (fiona["reminders"], fiona["escalations"]) == (2, 1)
    # Her items have two owners: one escalation step, to both, on 19 May.
    assert fiona["escalated_to"] == ["owner"]
    assert by_key[(NATALIE, "P08.M0")]["bouncing_since"] == "2026-05-01T09:05:00+01:00"
    assert by_key[(JASON, "BV212.1")]["returned_at"] is None
    # Each person is listed in name order, their items in the order of their form.
    people = [r["email"] for r in rows]
    assert list(dict.fromkeys(people)) == [AMY, FIONA, JASON, KEVIN, NATALIE]
    assert [r["item"] for r in rows if r["email"] == JASON] == ITEMS[JASON]


def _without_natalies_chases(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted, Natalie's chase dates left out (see the test)."""
    return sorted(
        (
            {**r, "reminder_dates": None, "escalation_dates": None} if r["email"] == NATALIE else r
            for r in rows
        ),
        key=_key,
    )


def test_a_quarter_covers_its_months_and_the_default_is_the_latest_period(
    april: dict[str, str],
) -> None:
    april_rows = _json(april, "--period", "2026-04")
    assert _json(april, "--period", "2026/27 Q1") == april_rows
    assert _json(april, "--period", "2026/27") == april_rows
    assert _json(april) == april_rows  # only April has requests so far
    assert _json(april, "--period", "2026-05") == []


def test_a_promise_whose_day_has_come_without_a_figure_is_missing_again(
    april: dict[str, str],
) -> None:
    """Promised for 8 July: still promised on the 7th, owed again (missing) on the 8th."""

    def bv212_1(now: str) -> tuple[str, str | None]:
        [row] = [r for r in _json(april, now=now) if r["item"] == "BV212.1"]
        return row["status"], row["promised_for"]

    assert bv212_1("2026-07-07T18:00") == ("promised", "2026-07-08")
    assert bv212_1("2026-07-08T08:00") == ("missing", "2026-07-08")


def test_at_a_quarters_end_the_default_is_the_month_and_the_quarter(
    cli_env: dict[str, str], sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    """On 1 July the June and the Q1 requests go out together: both are the latest round."""
    sample_register.load(sessions, as_utc(datetime(2026, 4, 20, 12, 0)))
    for month in (5, 6, 7):
        tick(sessions, _local(date(2026, month, 1), 9))
    latest = _json(cli_env, now="2026-07-02T09:00")
    assert {r["period"] for r in latest} == {"2026/27 Q1", "2026-06"}
    quarter = _json(cli_env, "--period", "2026/27 Q1", now="2026-07-02T09:00")
    assert {r["period"] for r in quarter} == {"2026/27 Q1", "2026-04", "2026-05", "2026-06"}
    # Listed in report order: the quarter, then its months.
    assert list(dict.fromkeys(r["period"] for r in quarter)) == [
        "2026/27 Q1", "2026-04", "2026-05", "2026-06"
    ]  # fmt: skip
    assert [r for r in quarter if r["period"] in {"2026/27 Q1", "2026-06"}] == latest


def test_the_table_prints_statuses_and_totals(april: dict[str, str]) -> None:
    result = run_cli("returns", "--period", "April 2026", "--now", AS_AT, env=april)
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "Returns for 2026-04" in out
    assert "promised for 8 July 2026" in out
    assert "2: 2026-05-12, 2026-05-14" in out
    assert "1: 2026-05-19 owner" in out
    for name in ["Kevin Walsh", "Amy Lawson", "Jason Reid", "Natalie Price", "Fiona Grant"]:
        assert name in out
    assert "52 item(s): 4 received, 14 late, 1 promised, 24 missing, 9 bounced" in out


def test_csv_neutralises_formulas(april: dict[str, str], sessions: sessionmaker[Session]) -> None:
    hostile = '=HYPERLINK("http://evil.example","Kevin")'
    with sessions.begin() as s:
        s.execute(update(m.Person).where(m.Person.email == KEVIN).values(name=hostile))
        s.execute(
            update(m.Component).where(m.Component.code == "BV8a.1").values(title="@SUM(A1:A9)")
        )
    result = run_cli("returns", "--format", "csv", "--now", AS_AT, env=april)
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 52
    kevin = [r for r in rows if r["email"] == KEVIN]
    assert {r["person"] for r in kevin} == {"'" + hostile}
    assert [r["title"] for r in kevin if r["item"] == "BV8a.1"] == ["'@SUM(A1:A9)"]
    fiona = next(r for r in rows if r["email"] == FIONA)
    assert (fiona["reminders"], fiona["reminder_dates"]) == ("2", "2026-05-12 2026-05-14")
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    # JSON is not opened by spreadsheets: it carries the name as it is.
    assert {r["person"] for r in _json(april) if r["email"] == KEVIN} == {hostile}


def test_returns_refuses_a_bad_period_and_says_when_nothing_was_requested(
    cli_env: dict[str, str], sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, as_utc(datetime(2026, 4, 20, 12, 0)))
    bad = run_cli("returns", "--period", "Smarch 2026", env=cli_env)
    assert bad.code == 1
    assert bad.stderr.startswith("mailcapture: error: --period: ")
    empty = run_cli("returns", env=cli_env)
    assert empty.code == 0, empty.stderr
    assert empty.stdout.strip() == "no requests yet"
    assert run_cli("returns", "--format", "json", env=cli_env).stdout.strip() == "[]"


@pytest.mark.slow
def test_publish_writes_the_same_lines_as_returns_html(
    april: dict[str, str], tmp_path: Path
) -> None:
    require_pango()
    site = tmp_path / "site"
    done = run_cli(
        "publish", "--period", "2026/27 Q1", "--out", str(site), "--now", AS_AT, env=april
    )
    assert done.code == 0, done.stderr
    page = Page((site / "returns.html").read_text("utf-8"))
    [table] = page.tables
    assert table["caption"] == "Returns for April 2026, by person and item"
    assert [c["text"] for c in table["head"][0]] == [
        "Person", "Item", "Status", "Due", "Received", "Reminders", "Escalations"
    ]  # fmt: skip
    shown = [[c["text"] for c in row] for row in table["rows"]]
    listed = _json(april, "--period", "2026/27 Q1")
    assert [(r[0], r[1].split(" ")[0], r[2]) for r in shown] == [
        (row["person"], row["item"], _status_text(row)) for row in listed
    ]
    jason = next(r for r in shown if r[1].startswith("BV212.1 "))
    assert jason[2:] == [
        "promised for 8 July 2026",
        "15 May 2026, 17:00",
        "-",
        "2: 12 May 2026, 14 May 2026",
        "1: 19 May 2026 (owner)",
    ]
    kevin = next(r for r in shown if r[1].startswith("BV8a.1 "))
    assert kevin[2:] == ["received", "15 May 2026, 17:00", "5 May 2026, 10:00", "0", "0"]
    assert "52 items: 4 received, 14 late, 1 promised, 24 missing, 9 bounced." in " ".join(
        (site / "returns.html").read_text("utf-8").split()
    )
    # Linked from the index and from every page's footer; no address is published.
    assert 'href="returns.html"' in (site / "index.html").read_text("utf-8")
    assert 'href="returns.html"' in (site / "department-res.html").read_text("utf-8")
    assert "@ashdown.example" not in (site / "returns.html").read_text("utf-8")


def _status_text(row: dict[str, Any]) -> str:
    if row["status"] == "promised":
        day = date.fromisoformat(row["promised_for"])
        return f"promised for {day.day} {day:%B %Y}"
    return str(row["status"])
