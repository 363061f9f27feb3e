"""Issue 13, part 3: a figure a performance officer would query is held, not counted.

Jason Reid answers LHM01 (rent arrears, £) for April 2026. The sample history has March 2026
at £420,960 and April 2025 at £478,150, so £40 is more than ten times smaller than both: it
is stored unconfirmed, left out of every figure, the item stays outstanding, and the
confirmation asks about it in one plain sentence. ``LHM01.1: confirm`` or the same figure
again makes it count; any other figure replaces it. Everything goes through
``Pipeline.ingest`` from the request we really sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.apply import outstanding_items
from mailcapture.reports.export import values_table
from mailcapture.reports.queries import indicator_values
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

JASON_EMAIL = "jason.reid@ashdown.example"
JASON = f"Jason Reid <{JASON_EMAIL}>"
ASK_40 = (
    "You wrote £40 for LHM01.1; last month was £420,960 and April 2025 was £478,150. "
    'Reply "LHM01.1: confirm" to keep it, or send the right figure.'
)


class World(PipelineWorld):
    def reply(self, top: str) -> str:
        """Jason's top-posted Gmail reply to his April request; the outcome."""
        result = self.ingest(clients.gmail_top_posted(self.request_raw(JASON_EMAIL), JASON, top))
        assert result.state == "processed", result
        return str(result.outcome)

    def rows(self, code: str = "LHM01.1") -> list[tuple[Decimal | None, str, bool, bool]]:
        """(value, state, is_current, estimated) of every emailed row, oldest first."""
        with self.sessions() as s:
            return [
                (r.value, r.state.value, r.is_current, r.estimated)
                for r in s.scalars(
                    select(m.ComponentValue)
                    .join(m.Component)
                    .where(m.Component.code == code, m.ComponentValue.source == "email")
                    .order_by(m.ComponentValue.id)
                )
            ]

    def confirmation(self) -> str:
        """The latest confirmation's text part, with its line breaks undone."""
        row = self.outbox("confirmation")[-1]
        return " ".join(clients.plain_text(clients.parsed(row.raw)).split())

    def confirmation_html(self) -> str:
        row = self.outbox("confirmation")[-1]
        return " ".join(clients.html_text(clients.parsed(row.raw)).split())

    def outstanding(self) -> list[str]:
        with self.sessions() as s:
            request = s.scalars(
                select(m.DataRequest)
                .join(m.Person, m.Person.id == m.DataRequest.person_id)
                .where(m.Person.email == JASON_EMAIL)
            ).one()
            return sorted(i.item_code for i in outstanding_items(s, request))

    def lhm01(self) -> Decimal | None:
        with self.sessions() as s:
            [row] = indicator_values(s, parse_period("2026-04"), ["LHM01"])
            return row.current.value


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> World:
    april_requests_sent(sessions, sample_register)
    return World(sessions)


def test_an_implausible_estimate_is_held_asked_about_and_counted_nowhere(world: World) -> None:
    assert world.reply("LHM01.1: about 40\nLHM01.2: 20,835,600\n\nJason") == "applied"
    # Stored as sent (an estimate of £40: the word never changes the number), never current.
    assert world.rows() == [(Decimal(40), "unconfirmed", False, True)]
    assert world.rows("LHM01.2") == [(Decimal(20835600), "accepted", True, False)]
    assert "LHM01.1" in world.outstanding()
    assert world.lhm01() is None  # the indicator lacks a component: £40 is not used
    text = world.confirmation()
    assert ASK_40.replace("£40", "£40 (estimate)") in text
    assert "1 figure looks unusual and is held until you confirm it" in text
    assert "stored but not counted in any figure or report" in text
    assert "Nothing was guessed" in text
    html = world.confirmation_html()
    assert "You wrote <strong>£40 (estimate)</strong> for LHM01.1; last month was" in html
    assert 'monospace;">LHM01.1: confirm</code> to keep it' in html
    subject = clients.parsed(world.outbox("confirmation")[-1].raw)["Subject"]
    assert "1 accepted, 1 to confirm" in subject
    # The export lists it, marked unconfirmed; figures are not built from exports' rows.
    with world.sessions() as s:
        exported = [r for r in values_table(s, ["2026-04"]).rows if r[1] == "LHM01.1"]
    assert [(r[2], r[3]) for r in exported] == [(Decimal(40), "unconfirmed")]


def test_confirm_makes_the_held_figure_count(world: World) -> None:
    world.reply("LHM01.1: 40\nLHM01.2: 20,835,600")
    assert world.rows()[0][:3] == (Decimal(40), "unconfirmed", False)
    assert world.reply("LHM01.1: confirm") == "applied"
    assert world.rows() == [
        (Decimal(40), "superseded", False, False),
        (Decimal(40), "accepted", True, False),
    ]
    assert "LHM01.1" not in world.outstanding()
    assert world.lhm01() == Decimal("0.00")  # 100 * 40 / 20,835,600, to 2 decimals
    text = world.confirmation()
    assert "LHM01.1 Current tenant rent arrears at month end Stored: £40 (confirmed)" in text
    assert "You wrote" not in text  # nothing left to ask
    # Confirming again changes nothing and is no error.
    world.reply("LHM01.1: confirm")
    assert len(world.rows()) == 2
    assert "could not be stored" not in world.confirmation()


def test_the_same_figure_again_confirms_it_and_the_estimate_mark_stays(world: World) -> None:
    world.reply("LHM01.1: approx 40")
    assert world.reply("LHM01.1: c. 40") == "applied"
    assert world.rows() == [
        (Decimal(40), "superseded", False, True),
        (Decimal(40), "accepted", True, True),
    ]
    assert "Stored: £40 (confirmed, estimate)" in world.confirmation()


def test_a_new_figure_replaces_the_held_one(world: World) -> None:
    world.reply("LHM01.1: 40")
    assert world.reply("LHM01.1: 415,200") == "applied"
    assert world.rows() == [
        (Decimal(40), "superseded", False, False),
        (Decimal(415200), "accepted", True, False),
    ]
    # A later "confirm" does not bring the replaced £40 back.
    world.reply("LHM01.1: confirm")
    assert world.rows()[-1] == (Decimal(415200), "accepted", True, False)
    assert len(world.rows()) == 2


def test_a_second_doubtful_figure_is_the_one_asked_about(world: World) -> None:
    world.reply("LHM01.1: 40")
    assert world.reply("LHM01.1: 41") == "unconfirmed"
    assert world.rows() == [
        (Decimal(40), "superseded", False, False),
        (Decimal(41), "unconfirmed", False, False),
    ]
    world.reply("LHM01.1: confirm")
    assert world.rows()[-1] == (Decimal(41), "accepted", True, False)


def test_confirm_with_nothing_held_is_refused_with_the_reason(world: World) -> None:
    assert world.reply("LHM01.1: confirm") == "rejected"
    assert world.rows() == [(None, "rejected", False, False)]
    assert (
        "there is no figure for LHM01.1 waiting to be confirmed; please send the figure itself"
        in world.confirmation()
    )


def test_a_figure_outside_the_allowed_range_is_held_with_the_range(world: World) -> None:
    assert world.reply("LHM01.1: 6,000,000") == "unconfirmed"
    assert world.rows() == [(Decimal(6000000), "unconfirmed", False, False)]
    assert (
        "You wrote £6,000,000 for LHM01.1; the allowed range is £0 to £5,000,000. "
        'Reply "LHM01.1: confirm" to keep it, or send the right figure.'
    ) in world.confirmation()
    world.reply("LHM01.1: confirm")
    assert world.rows()[-1] == (Decimal(6000000), "accepted", True, False)


def test_a_plausible_figure_is_stored_at_once(world: World) -> None:
    # £42,095 is more than ten times smaller than both March's £420,960 and April 2025's
    # £478,150; £42,096 is exactly ten times smaller than March's, so not *more* than ten.
    assert world.reply("LHM01.1: 42,095") == "unconfirmed"
    assert world.reply("LHM01.1: 42,096") == "applied"
    assert world.rows()[-1] == (Decimal(42096), "accepted", True, False)


@pytest.mark.parametrize(
    "answer",
    ["about 415,000", "approx 415,000", "c. 415,000", "~415,000", "est 415,000", "415,000 est"],
)
def test_words_of_estimation_mark_an_estimate_and_never_change_the_number(
    world: World, answer: str
) -> None:
    assert world.reply(f"LHM01.1: {answer}") == "applied"
    assert world.rows() == [(Decimal(415000), "accepted", True, True)]
    assert "Stored: £415,000 (estimate)" in world.confirmation()


def test_the_factor_is_the_registers_setting(world: World) -> None:
    with world.sessions.begin() as s:
        s.add(m.ServiceSetting(key="capture", value={"plausibility_factor": "200"}))
    # 420,960 / 4,000 is about 105: more than 10 times smaller, not more than 200.
    assert world.reply("LHM01.1: 4,000") == "applied"
    assert world.rows() == [(Decimal(4000), "accepted", True, False)]


def test_a_held_item_is_chased_as_not_received(world: World) -> None:
    world.reply("LHM01.1: 40\nLHM01.2: 20,835,600")
    # The reminders go out before the due date (10th working day of May, 17:00).
    tick(world.sessions, as_utc(datetime(2026, 5, 13, 9, 0)))
    reminders = [r for r in world.outbox("reminder") if r.recipient == JASON_EMAIL]
    assert reminders, "Jason is chased for the held figure"
    text = clients.plain_text(clients.parsed(reminders[-1].raw))
    assert re.search(r"^\[LHM01\.1\]", text, re.MULTILINE)
    assert not re.search(r"^\[LHM01\.2\]", text, re.MULTILINE)
