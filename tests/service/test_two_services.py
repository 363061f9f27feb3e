"""Two `mailcapture serve` processes on one database: each email sent once, each reply
applied once, even when every reply is delivered to both."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.smtp_servers import RecordingSink, free_port, smtp_sink

UPDATERS = {
    "kevin.walsh@ashdown.example": "BV8a.1: 1,234\nBV8a.2: 1,300\nP09.M0: on track",
    "fiona.grant@ashdown.example": "P01.M0: at risk",
    "natalie.price@ashdown.example": "P07.M0: delayed",
}


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_two_services_share_one_database(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    tmp_path: Path,
) -> None:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    with sessions() as s:
        requests = {
            email: raw
            for email, raw in s.execute(
                select(m.Person.email, m.OutboxMessage.raw)
                .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
                .where(m.OutboxMessage.kind == "request")
            )
        }
        queued = s.scalar(select(func.count()).select_from(m.OutboxMessage))
    sink = RecordingSink(delay=0.005)
    ports = [free_port(), free_port()]
    with smtp_sink(sink) as sink_url:
        procs = []
        for port in ports:
            env = {
                **os.environ,
                "MAILCAPTURE_DATABASE_URL": db_url,
                "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
                "MAILCAPTURE_SMTP_URL": sink_url,
                "MAILCAPTURE_SEND_SECONDS": "1",
                "MAILCAPTURE_TICK_SECONDS": "2",
                "MAILCAPTURE_SWEEP_SECONDS": "1",
                "MAILCAPTURE_STATE_DIR": str(tmp_path / "state"),
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mailcapture", "serve", "--now", "2026-05-05T10:00"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        try:
            for port in ports:
                _wait_for(lambda port=port: _accepts(port), timeout=30)
            replies = [
                clients.phone(requests[email], email, text)
                for email, text in UPDATERS.items()
                if email in requests
            ]
            assert len(replies) == 3
            for raw in replies:  # every reply to both services
                for port in ports:
                    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                        rcpt = str(clients.parsed(raw)["To"])
                        assert client.sendmail(str(clients.parsed(raw)["From"]), [rcpt], raw) == {}

            def settled() -> bool:
                with sessions() as s:
                    waiting = s.scalar(
                        select(func.count())
                        .select_from(m.InboundMessage)
                        .where(m.InboundMessage.state == "received")
                    )
                    unsent = s.scalar(
                        select(func.count())
                        .select_from(m.OutboxMessage)
                        .where(m.OutboxMessage.state.in_(["queued", "sending"]))
                    )
                    return waiting == 0 and unsent == 0 and len(sink.messages) >= queued + 3

            _wait_for(settled)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert '"event": "service.stopped"' in err

    with sessions() as s:
        states = Counter(s.scalars(select(m.InboundMessage.state)))
        assert states == Counter({"processed": 3, "duplicate": 3})
        values = s.scalar(
            select(func.count())
            .select_from(m.ComponentValue)
            .where(m.ComponentValue.source == "email")
        )
        statuses = s.scalar(select(func.count()).select_from(m.MilestoneUpdate))
        outcomes = [(r.outcome, r.outcome_detail) for r in s.scalars(select(m.InboundMessage))]
        assert (values, statuses) == (2, 3), outcomes
        sent = s.scalar(
            select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.state == "sent")
        )
    ids = sink.message_ids()
    assert len(ids) == len(set(ids)) == sent  # every email exactly once
    kinds = Counter(
        " ".join(str(clients.parsed(raw)["Subject"]).split()).split(":")[0]
        for _, _, raw in sink.messages
    )
    assert kinds["Received"] == 3, kinds  # one confirmation per reply, not per delivery


def _accepts(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


def test_corrections_sent_to_two_services_with_two_workers_apply_in_order(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    tmp_path: Path,
) -> None:
    """Kevin sends six replies in a row, each correcting BV8a.1, alternately to two ``serve``
    processes that each run two processing workers in batches (issue 14, part 3). However
    the four workers share them out, each reply is applied once and after the one before it:
    the figures follow one another in the order sent, each replacing the last, the last one
    stands, and Kevin gets one confirmation per reply."""
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    kevin = "kevin.walsh@ashdown.example"
    with sessions() as s:
        request = s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
            .where(m.OutboxMessage.kind == "request", m.Person.email == kevin)
        ).one()
    figures = [1871 + n for n in range(6)]
    replies = [clients.phone(request, kevin, f"BV8a.1: {figure:,}") for figure in figures]
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            env = {
                **os.environ,
                "MAILCAPTURE_DATABASE_URL": db_url,
                "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
                "MAILCAPTURE_MAIL_DIR": str(tmp_path / f"mail-{port}"),
                "MAILCAPTURE_TICK_SECONDS": "3600",
                "MAILCAPTURE_SWEEP_SECONDS": "1",
                "MAILCAPTURE_WORKERS": "2",
                "MAILCAPTURE_BATCH": "3",
                "MAILCAPTURE_STATE_DIR": str(tmp_path / "state"),
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mailcapture", "serve", "--now", "2026-05-05T10:00"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for port in ports:
            _wait_for(lambda port=port: _accepts(port), timeout=30)
        for n, raw in enumerate(replies):
            with smtplib.SMTP("127.0.0.1", ports[n % 2], timeout=30) as client:
                rcpt = str(clients.parsed(raw)["To"])
                assert client.sendmail(kevin, [rcpt], raw) == {}

        def settled() -> bool:
            with sessions() as s:
                done = s.scalar(
                    select(func.count())
                    .select_from(m.InboundMessage)
                    .where(m.InboundMessage.state != "received")
                )
                return done == len(replies)

        _wait_for(settled)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    with sessions() as s:
        rows = list(s.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id)))
        outcomes = [r.outcome for r in rows]
        if outcomes != ["applied"] * len(replies):
            Path("/tmp/two_services_error.txt").write_text("\n\n".join(r.error or "" for r in rows))
        assert outcomes == ["applied"] * len(replies), [(r.outcome, r.error) for r in rows]
        values = list(
            s.scalars(
                select(m.ComponentValue)
                .join(m.Component)
                .where(m.Component.code == "BV8a.1", m.ComponentValue.source == "email")
                .order_by(m.ComponentValue.id)
            )
        )
        assert [int(v.value) for v in values if v.value is not None] == figures
        assert [v.is_current for v in values] == [False] * (len(figures) - 1) + [True]
        assert [v.replaces_id for v in values[1:]] == [v.id for v in values[:-1]]
        confirmations = s.scalar(
            select(func.count())
            .select_from(m.OutboxMessage)
            .where(m.OutboxMessage.kind == "confirmation")
        )
        assert confirmations == len(replies)
