"""A real smtplib client talks to the service's listener on loopback."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.demo import clients
from mailcapture.runtime import Runtime
from mailcapture.schedule.tick import tick
from mailcapture.service.config import ServiceConfig
from mailcapture.service.runner import Service
from mailcapture.settings import Settings
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.service.outages import DatabaseOutage
from tests.smtp_servers import RecordingSink, free_port, smtp_sink

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"


def _request(sessions: sessionmaker[Session], email: str) -> bytes:
    with sessions() as s:
        return s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person)
            .where(m.Person.email == email, m.OutboxMessage.kind == "request")
        ).first()


def _wait_for(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _value(sessions: sessionmaker[Session], code: str) -> Decimal | None:
    with sessions() as s:
        return s.scalar(
            select(m.ComponentValue.value)
            .join(m.Component)
            .join(m.Period)
            .where(
                m.Component.code == code, m.Period.code == "2026-04", m.ComponentValue.is_current
            )
        )


@pytest.fixture
def world(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return sessions


@pytest.fixture
def sink() -> Iterator[tuple[str, RecordingSink]]:
    handler = RecordingSink()
    with smtp_sink(handler) as url:
        yield url, handler


def _service(db_url: str, tmp_path: Path, smtp_url: str, **env: str) -> Service:
    port = free_port()
    config = ServiceConfig.from_environment(
        {
            "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
            "MAILCAPTURE_TICK_SECONDS": "3600",
            "MAILCAPTURE_SEND_SECONDS": "1",
            **env,
        }
    )
    runtime = Runtime(
        Settings(
            database_url=db_url,
            config_dir=CONFIG_DIR,
            mail_dir=tmp_path / "outbox",
            smtp_url=smtp_url,
        ),
        clock=FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC)),
    )
    return Service(runtime, config)


def test_replies_over_smtp_land_and_the_confirmation_leaves_over_smtp(
    world: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
    sink: tuple[str, RecordingSink],
) -> None:
    sink_url, received = sink
    service = _service(db_url, tmp_path, sink_url)
    service.start()
    try:
        reply = clients.gmail_top_posted(
            _request(world, "kevin.walsh@ashdown.example"), KEVIN, "BV8a.1: 1,234\nBV8a.2: 1,300"
        )
        rcpt = clients.parsed(reply)["To"]
        with smtplib.SMTP("127.0.0.1", service.config.listen_port, timeout=10) as client:
            refused = client.sendmail("kevin.walsh@ashdown.example", [rcpt], reply)
        assert refused == {}
        _wait_for(lambda: _value(world, "BV8a.1") is not None)
        assert _value(world, "BV8a.1") == Decimal(1234)
        assert _value(world, "BV8a.2") == Decimal(1300)

        def confirmations() -> list[bytes]:
            return [
                raw
                for _, rcpts, raw in received.messages
                if rcpts == ["kevin.walsh@ashdown.example"]
                and str(clients.parsed(raw)["Subject"]).startswith("Received:")
            ]

        _wait_for(lambda: bool(confirmations()))
        confirmation = confirmations()[0]
        assert clients.parsed(confirmation)["Auto-Submitted"] == "auto-replied"
        with world() as s:
            row = s.scalars(select(m.InboundMessage)).one()
            assert (row.source, row.envelope_from) == ("smtp", "kevin.walsh@ashdown.example")
            assert row.envelope_to == [rcpt]
    finally:
        service.stop()


def test_recipients_outside_our_domains_and_oversized_mail_are_refused(
    world: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
    sink: tuple[str, RecordingSink],
) -> None:
    service = _service(db_url, tmp_path, sink[0], MAILCAPTURE_MAX_MESSAGE_BYTES="20000")
    service.start()
    try:
        with smtplib.SMTP("127.0.0.1", service.config.listen_port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("size") and client.esmtp_features["size"] == "20000"
            client.mail("someone@elsewhere.example")
            code, _ = client.rcpt("victim@elsewhere.example")
            assert code == 550
            client.rset()
            big = b"Subject: big\r\n\r\n" + b"x" * 30000 + b"\r\n"
            rcpt = "returns+aaaaaaaaaaaaaaaa@returns.ashdown.example"
            # A client that declares the size is refused at MAIL FROM ...
            with pytest.raises(smtplib.SMTPSenderRefused) as excinfo:
                client.sendmail("someone@elsewhere.example", [rcpt], big)
            assert excinfo.value.smtp_code == 552
            # ... and one that does not is refused after DATA.
            client.rset()
            client.mail("someone@elsewhere.example")
            assert client.rcpt(rcpt)[0] == 250
            assert client.data(big)[0] == 552
        with world() as s:
            assert s.scalars(select(m.InboundMessage)).all() == []
    finally:
        service.stop()


def test_database_down_means_451_and_the_retry_is_captured_once(
    world: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
    sink: tuple[str, RecordingSink],
) -> None:
    if make_url(db_url).get_backend_name() == "sqlite":
        path = make_url(db_url).database
        db_url = f"sqlite:///{path}?timeout=1"
    service = _service(db_url, tmp_path, sink[0])
    service.start()
    reply = clients.phone(_request(world, "kevin.walsh@ashdown.example"), KEVIN, "BV8a.1: 4321")
    rcpt = clients.parsed(reply)["To"]
    outage = DatabaseOutage(db_url)
    try:
        outage.start()
        with (
            smtplib.SMTP("127.0.0.1", service.config.listen_port, timeout=30) as client,
            pytest.raises(smtplib.SMTPDataError) as excinfo,
        ):
            client.sendmail("kevin.walsh@ashdown.example", [rcpt], reply)
        assert excinfo.value.smtp_code == 451
        outage.end()
        # The sending server retries, as 451 asks it to.
        with smtplib.SMTP("127.0.0.1", service.config.listen_port, timeout=30) as client:
            assert client.sendmail("kevin.walsh@ashdown.example", [rcpt], reply) == {}
        _wait_for(lambda: _value(world, "BV8a.1") is not None)
    finally:
        service.stop()
    assert _value(world, "BV8a.1") == Decimal(4321)
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        assert len(s.scalars(select(m.InboundMessage)).all()) == 1
        assert (
            len(s.scalars(select(m.ComponentValue).where(m.ComponentValue.source == "email")).all())
            == 1
        )
    engine.dispose()
