"""Bounded cost per message, through ``Pipeline.ingest`` (issue 12).

A hostile message is read only as far as its caps (``parsing.mime.Limits``), the note saying
what was left reaches the message's stages and the sender's confirmation, and the next
message is processed. A message that still runs over its time budget is set aside as
``deferred`` with the reason; ``reprocess`` takes it again. SQLite and PostgreSQL.

The budget is measured with a clock the test controls (each reading one "second" later
than the one before), so the tests count checkpoints instead of timing anything. The
messages are Kevin Walsh's replies to his real April request: built from
``tests/corpus/hostile/cost_*.eml`` (SOURCES.md, "Cost per message") with ``@TOKEN@``
replaced by his request's token, or built here when too large to keep.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import InboundState
from mailcapture.mailflow.pipeline import Pipeline, Settings
from mailcapture.mailflow.sent import sent_text
from mailcapture.mailflow.store import Envelope
from mailcapture.parsing.mime import Limits
from tests.conftest import CORPUS, SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent
from tests.snapshots import run_cli

HOSTILE = CORPUS / "hostile"
KEVIN = "kevin.walsh@ashdown.example"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _request(world: PipelineWorld) -> m.DataRequest:
    with world.sessions() as s:
        request = s.scalars(
            select(m.DataRequest)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.Person.email == KEVIN)
        ).one()
        s.expunge(request)
        return request


def _raw(world: PipelineWorld, name: str) -> bytes:
    request = _request(world)
    raw = (HOSTILE / name).read_bytes().replace(b"@TOKEN@", request.token.encode())
    return raw.replace(b"@IN_REPLY_TO@", (request.message_id or "").encode())


def _stage(row: m.InboundMessage, name: str) -> dict[str, object]:
    return [entry for entry in row.stages or [] if entry.get("stage") == name][-1]


def _accepted(world: PipelineWorld, code: str) -> list[str]:
    with world.sessions() as s:
        return [
            str(value.value)
            for value in s.scalars(
                select(m.ComponentValue)
                .join(m.Component)
                .where(m.Component.code == code, m.ComponentValue.source == "email")
                .order_by(m.ComponentValue.id)
            )
        ]


def _mail_for(world: PipelineWorld, inbound_id: int) -> list[str]:
    """The text of every automatic email queued in answer to inbound message ``inbound_id``."""
    with world.sessions() as s:
        rows = s.scalars(
            select(m.OutboxMessage.raw).where(m.OutboxMessage.in_reply_to_id == inbound_id)
        )
        return [sent_text(raw) for raw in rows]


def _legitimate(world: PipelineWorld, answers: str) -> bytes:
    return clients.gmail_top_posted(
        world.request_raw(KEVIN), f"Kevin Walsh <{KEVIN}>", f"Hi,\n\n{answers}\n\nKevin"
    )


def _counting_timer() -> Callable[[], float]:
    """A clock that is one second later each time it is read: time is checkpoints."""
    readings = 0

    def timer() -> float:
        nonlocal readings
        readings += 1
        return float(readings)

    return timer


def _timed_pipeline(world: PipelineWorld) -> Pipeline:
    """A pipeline with a budget of 20 checkpoints: a normal reply passes about seven."""
    return Pipeline(
        world.sessions, world.clock, Settings(budget_seconds=20, timer=_counting_timer())
    )


def _lines(count: int) -> bytes:
    """Kevin's answers, then ``count`` short lines: every one a line the parsers look at."""
    return b"BV8a.1: 1234\nBV8a.2: 1300\n\n" + b"ok\n" * count


def test_a_cap_note_reaches_the_stages_and_the_confirmation(world: PipelineWorld) -> None:
    """``cost_many_text_parts.eml``: 120 inline text parts, the answers in the first. The
    first 100 are read; the decode stage and the confirmation say the rest were not."""
    result = world.ingest(_raw(world, "cost_many_text_parts.eml"))
    assert (result.state, result.outcome) == ("processed", "applied")
    note = "the message has 120 text parts: only the first 100 were read"
    assert note in str(_stage(world.inbound(result.id), "decode")["detail"])
    assert _accepted(world, "BV8a.1") == ["1234"]
    (confirmation,) = _mail_for(world, result.id)
    assert note in " ".join(confirmation.split())


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("cost_dash_lines.eml", None),
        ("cost_html_table.eml", None),
        ("cost_long_line.eml", "1 line(s) longer than 10,000 characters"),
        ("cost_header_fields.eml", "the message has 1,508 header fields"),
        ("cost_attribution_lines.eml", None),
        ("cost_references.eml", None),
    ],
)
def test_each_cost_sample_is_applied(world: PipelineWorld, name: str, note: str | None) -> None:
    """Every stored sample is a real reply under its hostile part: applied, with the note of
    the cap it reaches at the default limits, if any. ``cost_references.eml`` has no token:
    it is matched by its References, our request's id first among 1,001."""
    result = world.ingest(_raw(world, name))
    assert (result.state, result.outcome) == ("processed", "applied"), result.line()
    detail = str(_stage(world.inbound(result.id), "decode")["detail"] or "")
    if note is not None:
        assert note in detail
    assert len(_accepted(world, "BV8a.1")) == 1


def test_references_past_the_cap_still_match_the_request(world: PipelineWorld) -> None:
    """``cost_references.eml`` with the References cap lowered to 10: the first five ids (our
    request's among them) and the last five are read, and the decode stage says so."""
    pipeline = Pipeline(world.sessions, world.clock, Settings(Limits(max_references=10)))
    result = pipeline.ingest(_raw(world, "cost_references.eml"), Envelope(source="test"))
    assert (result.state, result.outcome) == ("processed", "applied")
    row = world.inbound(result.id)
    assert _stage(row, "match")["detail"] == "references"
    assert "References lists 1,001 message ids: only the first 5 and the last 5 were read" in str(
        _stage(row, "decode")["detail"]
    )


def test_a_legitimate_reply_after_100000_dash_lines_is_processed(world: PipelineWorld) -> None:
    """100,000 ``-- `` lines were killed after 120 s and a reply sent after 20,000 of them
    waited 83 s. Now the hostile reply is read to its first 10,000 lines and applied (its
    answers are on top), and Kevin's next reply is applied after it."""
    hostile = _raw(world, "cost_dash_lines.eml").replace(b"-- \n" * 2000, b"-- \n" * 100_000)
    first = world.ingest(hostile)
    assert (first.state, first.outcome) == ("processed", "applied")
    assert "only the first 10,000 lines of the message were read (it has 100,005)" in str(
        _stage(world.inbound(first.id), "decode")["detail"]
    )
    second = world.ingest(_legitimate(world, "BV8a.1: 1,250\nBV8a.2: 1,310"))
    assert (second.state, second.outcome) == ("processed", "applied")
    assert _accepted(world, "BV8a.2")[-1].startswith("1310")


def test_a_message_over_its_budget_is_deferred_and_the_next_one_is_processed(
    world: PipelineWorld,
) -> None:
    """Past its budget a message is rolled back and set aside: ``deferred``, the reason in
    its outcome, the stages it got through in its trail, nothing applied and nothing sent.
    The next message is processed; the sweep does not pick the deferred one up again."""
    pipeline = _timed_pipeline(world)
    slow = _raw(world, "cost_dash_lines.eml").replace(b"-- \n" * 2000, _lines(20_000))
    deferred = pipeline.ingest(slow, Envelope(source="test"))
    assert (deferred.state, deferred.outcome) == ("deferred", "deferred")
    assert deferred.detail is not None
    assert deferred.detail.startswith("not read within its budget of 20 s: stopped after ")
    assert ", at parse;" in deferred.detail
    row = world.inbound(deferred.id)
    assert row.state is InboundState.DEFERRED and row.attempts == 1
    trail = [entry.get("stage") for entry in row.stages or []]
    assert trail[:4] == [None, "store", "decode", "classify"]  # None: the {"run": 1} entry
    assert "match" in trail and trail[-1] == "budget"
    assert "only the first 10,000 lines" in str(_stage(row, "decode")["detail"])
    assert _stage(row, "budget")["result"] == "deferred"
    assert _stage(row, "budget")["detail"] == deferred.detail
    assert _accepted(world, "BV8a.1") == []
    assert _mail_for(world, deferred.id) == []
    assert deferred.id not in pipeline.pending()

    following = pipeline.ingest(
        _legitimate(world, "BV8a.1: 1,250\nBV8a.2: 1,310"), Envelope(source="test")
    )
    assert (following.state, following.outcome) == ("processed", "applied")


def test_reprocess_takes_a_deferred_message_again(world: PipelineWorld) -> None:
    """``reprocess`` (``force``) takes a deferred message; with a larger budget (here none)
    it is read, applied and confirmed, and its trail keeps both runs."""
    slow = _raw(world, "cost_dash_lines.eml").replace(b"-- \n" * 2000, _lines(20_000))
    timed = Pipeline(
        world.sessions, world.clock, Settings(budget_seconds=20, timer=_counting_timer())
    )
    deferred = timed.ingest(slow, Envelope(source="test"))
    assert deferred.state == "deferred"
    assert timed.process(deferred.id).state == "deferred"  # not taken without force

    again = Pipeline(world.sessions, world.clock, Settings(budget_seconds=None))
    result = again.process(deferred.id, force=True)
    assert (result.state, result.outcome) == ("processed", "applied")
    row = world.inbound(result.id)
    assert row.attempts == 2
    runs = [entry["run"] for entry in row.stages or [] if "run" in entry]
    assert runs == [1, 2]
    assert _accepted(world, "BV8a.1") == [_accepted(world, "BV8a.1")[0]]
    assert len(_mail_for(world, deferred.id)) == 1


def test_status_counts_deferred_messages_and_reprocess_deferred_takes_them(
    world: PipelineWorld, cli_env: dict[str, str]
) -> None:
    """``mailcapture status`` shows the deferred messages; ``reprocess --deferred`` (with
    ``--budget 0``: no limit) takes them all again; ``--failed`` does not."""
    slow = _raw(world, "cost_dash_lines.eml").replace(b"-- \n" * 2000, _lines(20_000))
    timed = Pipeline(
        world.sessions, world.clock, Settings(budget_seconds=20, timer=_counting_timer())
    )
    deferred = timed.ingest(slow, Envelope(source="test"))
    assert deferred.state == "deferred"

    status = run_cli("status", "--now", "2026-05-05T10:00", env=cli_env)
    assert status.code == 0, status.stderr
    (line,) = [ln for ln in status.stdout.splitlines() if "deferred" in ln and "reprocess" in ln]
    assert " 1 " in line

    failed = run_cli("reprocess", "--failed", "--now", "2026-05-05T10:00", env=cli_env)
    assert failed.code == 0 and "no failed messages" in failed.stdout
    both = run_cli("reprocess", "--failed", "--deferred", env=cli_env)
    assert both.code != 0 and "one of them" in both.stderr

    done = run_cli(
        "reprocess", "--deferred", "--budget", "0", "--now", "2026-05-05T10:00", env=cli_env
    )
    assert done.code == 0, done.stderr
    assert f"#{deferred.id} processed: applied" in done.stdout
    with world.sessions() as s:
        left = s.scalar(
            select(func.count())
            .select_from(m.InboundMessage)
            .where(m.InboundMessage.state == InboundState.DEFERRED)
        )
    assert left == 0
