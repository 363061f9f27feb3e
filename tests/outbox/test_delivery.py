"""The outbox delivers through real SMTP on loopback, retries, gives up and says so."""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock
from mailcapture.db import models as m
from mailcapture.domain.enums import OutboxState
from mailcapture.outbox.queue import NewMail, enqueue
from mailcapture.outbox.service import send_due
from mailcapture.outbox.worker import RetryPolicy
from mailcapture.transport.outbound import FolderSender, SmtpSender, SmtpSettings
from tests.conftest import SampleRegister
from tests.smtp_servers import RecordingSink, smtp_sink

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def loaded(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, NOW)
    return sessions


def _queue(
    sessions: sessionmaker[Session], count: int, to: str = "kevin.walsh@ashdown.example"
) -> list[int]:
    ids = []
    with sessions.begin() as session:
        for n in range(count):
            raw = (
                f"From: performance@ashdown.example\r\nTo: {to}\r\n"
                f"Message-ID: <test-{n}@returns.ashdown.example>\r\nSubject: test {n}\r\n\r\n"
                f"body {n}\r\n"
            ).encode()
            row = enqueue(
                session,
                NewMail(
                    kind="request",
                    recipient=to,
                    subject=f"test {n}",
                    message_id=f"<test-{n}@returns.ashdown.example>",
                    raw=raw,
                    dedupe_key=f"test:{n}",
                ),
                NOW,
            )
            assert row is not None
            ids.append(row.id)
    return ids


def _states(sessions: sessionmaker[Session]) -> dict[int, tuple[str, int, str | None]]:
    with sessions() as session:
        return {
            r.id: (r.state.value, r.attempts, r.kind)
            for r in session.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id))
        }


def test_queueing_the_same_reason_twice_stores_one_row(loaded: sessionmaker[Session]) -> None:
    _queue(loaded, 1)
    with loaded.begin() as session:
        again = enqueue(
            session,
            NewMail(
                kind="request",
                recipient="x@ashdown.example",
                subject="again",
                message_id="<other@x>",
                raw=b"x",
                dedupe_key="test:0",
            ),
            NOW,
        )
    assert again is None
    assert len(_states(loaded)) == 1


def test_smtp_delivery_to_a_loopback_server(loaded: sessionmaker[Session]) -> None:
    ids = _queue(loaded, 3)
    sink = RecordingSink()
    with smtp_sink(sink) as url:
        sender = SmtpSender(SmtpSettings.from_url(url))
        stats = send_due(loaded, sender, FixedClock(NOW))
        sender.close()
    assert (stats.sent, stats.failed, stats.retrying) == (3, 0, 0)
    assert sorted(sink.message_ids()) == sorted(
        f"<test-{n}@returns.ashdown.example>" for n in range(3)
    )
    assert {mail_from for mail_from, _, _ in sink.messages} == {"returns@returns.ashdown.example"}
    with loaded() as session:
        rows = session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id.in_(ids))).all()
        assert all(r.state is OutboxState.SENT and r.sent_at == NOW for r in rows)
        assert all(r.delivery_note and r.delivery_note.startswith("250") for r in rows)
    # Nothing left to send: a second run sends nothing.
    with smtp_sink(RecordingSink()) as url:
        assert send_due(loaded, SmtpSender(SmtpSettings.from_url(url)), FixedClock(NOW)).sent == 0


def test_a_temporary_failure_is_retried_after_backoff(loaded: sessionmaker[Session]) -> None:
    [row_id] = _queue(loaded, 1)
    sink = RecordingSink(answers=["451 4.3.0 Try again later"])
    clock = FixedClock(NOW)
    policy = RetryPolicy(max_attempts=3, first_delay=timedelta(minutes=5))
    with smtp_sink(sink) as url:
        sender = SmtpSender(SmtpSettings.from_url(url))
        first = send_due(loaded, sender, clock, policy)
        assert (first.sent, first.retrying) == (0, 1)
        assert _states(loaded)[row_id][:2] == ("queued", 1)
        # Not yet due again: nothing happens.
        clock.advance(timedelta(minutes=4))
        assert send_due(loaded, sender, clock, policy).sent == 0
        clock.advance(timedelta(minutes=2))
        second = send_due(loaded, sender, clock, policy)
        sender.close()
    assert second.sent == 1
    assert _states(loaded)[row_id][:2] == ("sent", 2)
    assert len(sink.messages) == 1


def test_permanent_failure_marks_failed_and_tells_the_performance_team(
    loaded: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    [row_id] = _queue(loaded, 1, to="gone@ashdown.example")
    sink = RecordingSink(answers=["550 5.1.1 User unknown"])
    with smtp_sink(sink) as url:
        sender = SmtpSender(SmtpSettings.from_url(url))
        stats = send_due(loaded, sender, FixedClock(NOW))
        sender.close()
    assert stats.failed == 1 and stats.failed_ids == [row_id]
    states = _states(loaded)
    assert states[row_id][0] == "failed"
    notices = [i for i, (_, _, kind) in states.items() if kind == "outbox_failure"]
    assert len(notices) == 1
    # The notice went out in the same run, to the performance team, naming the failure.
    assert states[notices[0]][0] == "sent"
    [(_, rcpts, raw)] = sink.messages
    assert rcpts == ["performance@ashdown.example"]
    text = (
        next(
            p for p in email.message_from_bytes(raw).walk() if p.get_content_type() == "text/plain"
        )
        .get_payload(decode=True)
        .decode()
    )
    assert "gone@ashdown.example" in text and "550 5.1.1 User unknown" in text
    with loaded() as session:
        assert "550 5.1.1 User unknown" in (
            session.get_one(m.OutboxMessage, row_id).last_error or ""
        )


def test_giving_up_after_the_last_attempt(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    [row_id] = _queue(loaded, 1)
    clock = FixedClock(NOW)
    policy = RetryPolicy(max_attempts=2, first_delay=timedelta(minutes=1))
    sink = RecordingSink(answers=["451 busy", "451 busy"])
    with smtp_sink(sink) as url:
        sender = SmtpSender(SmtpSettings.from_url(url))
        assert send_due(loaded, sender, clock, policy).retrying == 1
        clock.advance(timedelta(minutes=2))
        final = send_due(loaded, sender, clock, policy)
        sender.close()
    assert final.failed == 1
    assert _states(loaded)[row_id][:2] == ("failed", 2)


def test_folder_delivery_writes_one_eml_per_message(
    loaded: sessionmaker[Session], tmp_path: Path
) -> None:
    _queue(loaded, 2)
    folder = tmp_path / "outbox"
    stats = send_due(loaded, FolderSender(folder), FixedClock(NOW))
    assert stats.sent == 2
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    assert {email.message_from_bytes(f.read_bytes())["Subject"] for f in files} == {
        "test 0",
        "test 1",
    }


SENDER_SCRIPT = """
import sys
from mailcapture.clock import FixedClock
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.outbox.service import send_due
from mailcapture.transport.outbound import SmtpSender, SmtpSettings
from datetime import datetime, UTC
sessions = session_factory(make_engine(sys.argv[1]))
sender = SmtpSender(SmtpSettings.from_url(sys.argv[2]))
stats = send_due(sessions, sender, FixedClock(datetime(2026, 5, 1, 8, 0, tzinfo=UTC)))
sender.close()
print(stats.sent)
"""


def test_two_sender_processes_send_every_row_exactly_once(
    loaded: sessionmaker[Session],
    db_url: str,
) -> None:
    _queue(loaded, 120)
    sink = RecordingSink(delay=0.01)
    with smtp_sink(sink) as url:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", SENDER_SCRIPT, db_url, url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    per_process = [int(out.strip()) for out, _ in results]
    ids = sink.message_ids()
    assert len(ids) == 120 and len(set(ids)) == 120
    assert sum(per_process) == 120
    assert all(n > 0 for n in per_process), per_process  # both really took part
    assert {s for s, _, _ in _states(loaded).values()} == {"sent"}
