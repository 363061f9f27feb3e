"""``mailcapture messages --state quarantined`` and ``mailcapture release`` (issue 15, part 6),
through the real command line on both databases.

A reply from Kevin that our host says failed DMARC is held (``tests/corpus/hostile/
dmarc_fail_trailing_semicolon.eml``); the performance team finds it in the list of held
messages, and a member of the team releases it once Kevin has confirmed: it is applied and
Kevin is confirmed. Anyone else is refused with a one-line reason and a non-zero exit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.mailflow.test_hostile_auth import answering, hostile
from tests.mailflow.world import PipelineWorld
from tests.snapshots import run_cli

KEVIN = "kevin.walsh@ashdown.example"
TEAM = "martin.shaw@ashdown.example"  # performance team


def test_the_team_lists_held_replies_and_releases_one(
    cli_env: dict[str, str], sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    world = PipelineWorld(sessions)
    raw = hostile(
        "dmarc_fail_trailing_semicolon.eml",
        **answering(world.request_raw(KEVIN)),
        **{"from": f"Kevin Walsh <{KEVIN}>", "answers": "BV8a.1: 1,870"},
    )
    pipeline = Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC)))
    held = pipeline.ingest(raw, Envelope(source="test")).id
    pipeline.ingest(b"From: someone@else.example\r\nSubject: hi\r\n\r\nhello\r\n", Envelope("t"))

    listed = run_cli("messages", "--state", "quarantined", "--format", "json", env=cli_env)
    assert listed.code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["sender"], r["outcome"]) for r in rows] == [(held, KEVIN, "dmarc-fail")]

    refused = run_cli("release", str(held), "--by", KEVIN, "--reason", "mine", env=cli_env)
    assert refused.code != 0
    assert refused.stderr.strip().splitlines() == [
        "mailcapture: error: refused: only the performance team may release a held reply; "
        f"{KEVIN} is not in it"
    ]
    assert world.current("BV8a.1") is None

    released = run_cli(
        *("release", str(held), "--by", TEAM, "--reason", "Kevin confirmed by phone"),
        *("--now", "2026-05-05T11:00"),
        env=cli_env,
    )
    assert released.code == 0, released.stderr
    assert f"#{held} processed: applied" in released.stdout
    assert world.current("BV8a.1") == (Decimal(1870), "accepted")
    with sessions() as s:
        kinds = list(
            s.scalars(select(m.OutboxMessage.kind).where(m.OutboxMessage.recipient == KEVIN))
        )
    assert kinds.count("confirmation") == 1
    again = run_cli("messages", "--state", "quarantined", "--format", "json", env=cli_env)
    assert json.loads(again.stdout) == []
