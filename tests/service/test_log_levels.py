"""Failures of the transports reach the service's log as warnings, not as routine information.

``serve`` used to route the IMAP poller's and the listener's events through one callback that
logged everything at INFO, so "cannot connect to the mailbox" or "451, not stored" looked like
routine lines to an operator filtering on level. Checked with a real listener, a real SMTP
client, and the real service pointed at an IMAP port where nothing listens.
"""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock
from mailcapture.runtime import Runtime
from mailcapture.service.config import ServiceConfig
from mailcapture.service.health import check_workers
from mailcapture.service.runner import Service
from mailcapture.service.supervisor import BACKING_OFF
from mailcapture.settings import Settings
from mailcapture.transport.listener import ListenerConfig, start_listener
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.smtp_servers import free_port

MESSAGE = b"From: a@example.org\r\nTo: returns@ashdown.example\r\nSubject: x\r\n\r\nhello\r\n"


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name]


def test_a_message_not_stored_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def store(raw: bytes, mail_from: str | None, rcpt: object, peer: str) -> None:
        raise OSError("disk full")

    controller = start_listener(ListenerConfig(port=free_port()), store)
    caplog.set_level(logging.INFO, logger="mailcapture")
    try:
        with (
            smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            client.sendmail("a@example.org", ["returns@ashdown.example"], MESSAGE)
    finally:
        controller.stop()
    assert refused.value.smtp_code == 451
    [deferred] = _records(caplog, "smtp.deferred")
    assert deferred.levelno == logging.WARNING
    assert deferred.fields["error"] == "OSError: disk full"  # type: ignore[attr-defined]


def test_the_service_logs_an_unreachable_mailbox_as_a_warning(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    closed = free_port()
    config = ServiceConfig.from_environment(
        {
            "MAILCAPTURE_LISTEN": "",
            "MAILCAPTURE_IMAP_URL": f"imap://capture:secret@127.0.0.1:{closed}/INBOX",
            "MAILCAPTURE_TICK_SECONDS": "3600",
            "MAILCAPTURE_SEND_SECONDS": "3600",
            "MAILCAPTURE_SWEEP_SECONDS": "3600",
        }
    )
    settings = Settings(db_url, CONFIG_DIR, tmp_path / "outbox", None)
    clock = FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
    service = Service(Runtime(settings, clock=clock), config)
    caplog.set_level(logging.INFO, logger="mailcapture")
    service.start()
    try:
        deadline = time.monotonic() + 20
        while not _records(caplog, "imap.connection_failed") and time.monotonic() < deadline:
            time.sleep(0.1)
        # The poller retries by itself; its supervisor publishes it as backing off, so
        # health names it (checked before the stop, which takes the status file away).
        imap = service.supervisors["imap"].status
        # The status file is rewritten just after the state changes: on a busy machine the
        # check can come first, so wait for the file to say so (as long as the deadline).
        checks = {c.name: c for c in check_workers(tmp_path)}
        while "worker imap" not in checks and time.monotonic() < deadline + 20:
            time.sleep(0.1)
            checks = {c.name: c for c in check_workers(tmp_path)}
    finally:
        service.stop()
    failures = _records(caplog, "imap.connection_failed")
    assert failures, [r.getMessage() for r in caplog.records]
    assert {r.levelno for r in failures} == {logging.WARNING}
    assert imap.state == BACKING_OFF
    assert imap.last_error and imap.last_error.startswith("connection failed: ")
    assert not checks["worker imap"].ok
    assert checks["worker imap"].detail.startswith("backing off since ")
