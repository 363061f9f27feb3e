"""`mailcapture tick --now ...` on a clean database: requests to the mail folder, then chases."""

from __future__ import annotations

import email
import re
import shutil
from collections import Counter
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose.form import parse_back
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.domain.periods import parse_period
from mailcapture.schedule.reports import KINDS as REPORT_KINDS
from mailcapture.schedule.reports import report_times
from mailcapture.schedule.timetable import load_timetable
from tests.conftest import CONFIG_DIR
from tests.snapshots import run_cli


def _messages(folder: Path) -> dict[str, Message]:
    return {p.name: email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


def _part(message: Message, subtype: str) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == f"text/{subtype}")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def _kind(name: str) -> str:
    return name.split("-", 1)[1].removesuffix(".eml")


@pytest.fixture
def ready(cli_env: dict[str, str]) -> dict[str, str]:
    assert run_cli("init", env=cli_env).code == 0
    result = run_cli("load", env=cli_env)
    assert result.code == 0, result.stderr
    return cli_env


def test_tick_writes_one_request_per_updater_then_chases(ready: dict[str, str]) -> None:
    outbox = Path(ready["MAILCAPTURE_MAIL_DIR"])
    first = run_cli("tick", "--now", "2026-05-01T09:00", env=ready)
    assert first.code == 0, first.stderr
    written = _messages(outbox)
    requests = {name: msg for name, msg in written.items() if _kind(name) == "request"}

    sessions = session_factory(make_engine(ready["MAILCAPTURE_DATABASE_URL"]))
    with sessions() as session:
        april = session.scalars(select(m.Period).where(m.Period.code == "2026-04")).one()
        rows = session.scalars(
            select(m.DataRequest).where(m.DataRequest.period_id == april.id)
        ).all()
        by_token = {r.token: ([i.item_code for i in r.items], r.person.email) for r in rows}
        updaters = set(
            session.scalars(
                select(m.Person.email)
                .join(m.IndicatorUpdater)
                .join(m.Indicator)
                .where(m.Indicator.frequency == "monthly")
            )
        )
        updaters |= set(
            session.scalars(
                select(m.Person.email).join(m.Project, m.Project.updater_id == m.Person.id)
            )
        )
    assert len(requests) == len(rows) == len(updaters) >= 4
    assert set(written) == set(requests)  # nothing else is due on 1 May

    for message in requests.values():
        token = re.fullmatch(
            r"returns\+([a-z2-7]{16})@returns\.ashdown\.example", message["Reply-To"]
        ).group(1)
        assert f"[MC-{token}]" in message["Subject"].replace("\n ", " ")
        codes, recipient = by_token[token]
        assert recipient in message["To"]
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
        text = _part(message, "plain")
        assert parse_back(text) == codes
        assert all(len(line) <= 78 for line in text.splitlines())
        html = _part(message, "html")
        assert all(code in html for code in codes)

    again = run_cli("tick", "--now", "2026-05-01T09:30", env=ready)
    assert again.code == 0 and "0 request(s)" in again.stdout
    assert set(_messages(outbox)) == set(written)

    # 12 May: three working days before the 15 May deadline, the first reminder.
    reminders = run_cli("tick", "--now", "2026-05-12T09:00", env=ready)
    assert reminders.code == 0, reminders.stderr
    new = {n: msg for n, msg in _messages(outbox).items() if n not in written}
    assert {_kind(n) for n in new} == {"reminder"} and len(new) == len(requests)
    request_ids = {msg["Message-ID"] for msg in requests.values()}
    assert {msg["In-Reply-To"] for msg in new.values()} == request_ids

    # 19 May: two working days after the deadline, escalations to the owners, and the
    # returns summary (due one working day after the deadline) to the performance team;
    # the missed second reminder (14 May) is stale by now and is not sent.
    seen = set(_messages(outbox))
    escalations = run_cli("tick", "--now", "2026-05-19T09:00", env=ready)
    assert escalations.code == 0, escalations.stderr
    new = {n: msg for n, msg in _messages(outbox).items() if n not in seen}
    assert sorted(_kind(n) for n in new if _kind(n) != "escalation_owner") == ["returns_summary"]
    summary = next(msg for n, msg in new.items() if _kind(n) == "returns_summary")
    assert summary["To"].endswith("<performance@ashdown.example>")
    new = {n: msg for n, msg in new.items() if _kind(n) == "escalation_owner"}
    with sessions() as session:
        owners = {
            p.email
            for p in session.scalars(
                select(m.Person)
                .join(m.Indicator, m.Indicator.owner_id == m.Person.id)
                .where(m.Indicator.frequency == "monthly")
            )
        }
        owners |= {
            p.email
            for p in session.scalars(
                select(m.Person).join(m.Project, m.Project.owner_id == m.Person.id)
            )
        }
    assert {email.utils.parseaddr(msg["To"])[1] for msg in new.values()} == owners


def test_hostile_titles_are_escaped_in_html(cli_env: dict[str, str], tmp_path: Path) -> None:
    register = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, register)
    indicators = register / "indicators.yaml"
    text = indicators.read_text()
    hostile = '"<script>alert(1)</script> paid"'
    indicators.write_text(
        text.replace("title: Undisputed invoices paid within 30 days", f"title: {hostile}", 1)
    )
    assert run_cli("init", env=cli_env).code == 0
    assert run_cli("load", str(register), env=cli_env).code == 0
    assert run_cli("tick", "--now", "2026-05-01T09:00", env=cli_env).code == 0
    outbox = Path(cli_env["MAILCAPTURE_MAIL_DIR"])
    carrying = [msg for msg in _messages(outbox).values() if "[BV8a.1]" in _part(msg, "plain")]
    assert carrying
    for message in carrying:
        html = _part(message, "html")
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "<script>alert(1)</script> paid" in _part(message, "plain")


def _local_text(when: datetime) -> str:
    return when.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def _tick_line(stdout: str) -> str:
    """The line in which `tick` says what it queued (the next says what it delivered)."""
    return next(line for line in stdout.splitlines() if line.startswith("tick at "))


def _last_tick_queued(url: str) -> dict[str, object]:
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        last = session.scalars(select(m.SchedulerTick).order_by(m.SchedulerTick.id.desc())).first()
        assert last is not None and last.queued is not None
        return dict(last.queued)


def test_tick_counts_the_reports_it_queues_by_kind(ready: dict[str, str]) -> None:
    """The owner, department and exception reports after April's deadline, and the
    quarterly report after June's: `tick` names each kind it queued, in its output and in
    ``scheduler_ticks.queued``, and the counts are the report emails written."""
    url = ready["MAILCAPTURE_DATABASE_URL"]
    outbox = Path(ready["MAILCAPTURE_MAIL_DIR"])
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        timetable = load_timetable(session)
    april = report_times(timetable, parse_period("2026-04")).times
    june = report_times(timetable, parse_period("2026-06")).times
    assert april["department"] == april["exception"] and "quarterly" in june

    first = run_cli("tick", "--now", "2026-05-01T09:00", env=ready)
    assert first.code == 0, first.stderr
    assert _tick_line(first.stdout).endswith(" 0 report(s) queued"), first.stdout
    assert _last_tick_queued(url)["reports"] == dict.fromkeys(REPORT_KINDS, 0)

    def tick_at(when: datetime) -> tuple[str, dict[str, int], dict[str, int]]:
        """Tick at ``when``: its output line, its ``reports`` counts, the reports written."""
        seen = set(_messages(outbox))
        done = run_cli("tick", "--now", _local_text(when), env=ready)
        assert done.code == 0, done.stderr
        written = Counter(
            _kind(n).removeprefix("report_")
            for n in _messages(outbox)
            if n not in seen and _kind(n).startswith("report_")
        )
        counts = _last_tick_queued(url)["reports"]
        assert isinstance(counts, dict)
        return _tick_line(done.stdout), counts, dict(written)

    out, counts, written = tick_at(april["owner"])
    owners, rounds = written["owner"], written["owner_round"]
    # One report per owner and round, and one email per round to each person copied (the
    # performance team, two people): March's round and April's fall due together here.
    assert owners >= 4 and rounds == 4
    assert counts == {**dict.fromkeys(REPORT_KINDS, 0), "owner": owners, "owner_round": rounds}
    assert out.endswith(
        f" {owners + rounds} report(s) ({owners} owner, {rounds} owner_round) queued"
    ), out

    out, counts, written = tick_at(april["department"])
    assert written["department"] >= 1 and written["exception"] >= 1
    assert counts == {**dict.fromkeys(REPORT_KINDS, 0), **written}
    total = written["department"] + written["exception"]
    assert out.endswith(
        f" {total} report(s) ({written['department']} department, "
        f"{written['exception']} exception) queued"
    ), out

    # Ticking again the same day queues no report twice, and says so.
    out, counts, written = tick_at(april["department"] + timedelta(minutes=30))
    assert written == {} and counts == dict.fromkeys(REPORT_KINDS, 0)
    assert out.endswith(" 0 report(s) queued"), out

    out, counts, written = tick_at(june["quarterly"])
    assert written["quarterly"] >= 1
    assert counts == {**dict.fromkeys(REPORT_KINDS, 0), **written}
    assert f"{written['quarterly']} quarterly" in out
