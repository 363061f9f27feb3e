"""Every way people answer (issue 13), as real replies through ``Pipeline.ingest``.

Each habit of the answer grammar is written the way Outlook, Gmail, Apple Mail and
Thunderbird write replies, in plain text and in HTML, built from the exact request we sent
(``mailcapture.demo.clients``). Around each answer is the noise of a real reply: a greeting,
a sign-off and a signature with telephone numbers and dates, and quoted history carrying an
older answer of the sender's. The assertions are on what was stored: exactly the values the
sender gave, each item's comment, the general comment, and the lines rejected with a reason;
nothing from the noise.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import CommentSubject
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
ITEMS = ("BV8a.1", "BV8a.2", "P09.M0")

GREETING = "Hi team,"
COMMENT = "Invoices system was down for two days."
SIGNATURE = (
    "Thanks, Kevin\n"
    "Kevin Walsh | Finance Officer\n"
    "Tel: 01632 960 123 | Mob: 07700 900 123\n"
    "On leave 22/05/2026 to 29/05/2026"
)
#: An older answer of the sender's, quoted further down the thread: never stored again.
HISTORY = "BV8a.1: 1,500\nBV8a.2: 1,600\nP09.M0: delayed"


@dataclass(frozen=True)
class Stored:
    """What one reply left in the database for Kevin's April items."""

    values: dict[str, object]
    comments: dict[str, str]
    general: str | None
    rejected: dict[str, str]


@dataclass(frozen=True)
class Habit:
    """One way of answering: the lines typed on top (or inline, under the quoted form lines),
    and what must be stored from them."""

    name: str
    top: str = ""
    html: str = ""  # the same answer as HTML, when it differs from the lines in <div>s
    inline: dict[str, str] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


N1, N2 = Decimal("1870"), Decimal("1902")

HABITS = [
    Habit(
        "colon",
        top="BV8a.1: 1,870\nBV8a.2: 1902\nP09.M0: on track",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "on_track"},
    ),
    Habit(
        "equals, any case",
        top="bv8a.1 = 1,870\nBV8A.2=1902\np09.m0 = at risk",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "at_risk"},
    ),
    Habit(
        "dash and en dash",
        top="BV8a.1 - 1,870\nBV8a.2 – 1,902\nP09.M0 - delayed",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "delayed"},
    ),
    Habit(
        "tab",
        top="BV8a.1\t1,870\nBV8a.2\t1902\nP09.M0\ton track",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "on_track"},
    ),
    Habit(
        "spaces",
        top="BV8a.1   1,870\nBV8a.2 1902\nP09.M0 on track",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "on_track"},
    ),
    Habit(
        "minus where the item takes no negatives",
        # The form says "Allowed: 0 to 20,000": the dash only separates code and figure.
        top="BV8a.1 -1,870\nBV8a.2 -1902",
        values={"BV8a.1": N1, "BV8a.2": N2},
    ),
    Habit(
        "bracketed code",
        top="[BV8a.1] 1,870\n[BV8a.2] - 1,902\n[P09.M0]: complete 20 April 2026",
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "complete"},
    ),
    Habit(
        "title copied with the code (a spreadsheet row)",
        top=(
            "BV8a.1\tUndisputed invoices paid within 30 days\t1,870\n"
            "BV8a.2\tUndisputed invoices received (number)\t1902\n"
            "P09.M0 HR and payroll system replacement - overall progress: at risk"
        ),
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "at_risk"},
    ),
    Habit(
        "table with a header row",
        top=(
            "Code\tValue\tComment\n"
            "BV8a.1\t1,870\tprovisional\n"
            "BV8a.2\t1,902\t\n"
            "P09.M0\ton track\tgo-live moved to June"
        ),
        html=(
            "<table><tr><td>Code</td><td>Value</td><td>Comment</td></tr>"
            "<tr><td>BV8a.1</td><td>1,870</td><td>provisional</td></tr>"
            "<tr><td>BV8a.2</td><td>1,902</td><td></td></tr>"
            "<tr><td>P09.M0</td><td>on track</td><td>go-live moved to June</td></tr></table>"
        ),
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "on_track"},
        comments={"BV8a.1": "provisional", "P09.M0": "go-live moved to June"},
    ),
    Habit(
        "table, columns in another order with extra ones",
        top=(
            "Notes\tTitle\tItem\tFigure\n"
            "checked twice\tInvoices paid\tBV8a.1\t1,870\n"
            "as invoiced\tInvoices received\tBV8a.2\t1902"
        ),
        html=(
            "<table><tr><th>Notes</th><th>Title</th><th>Item</th><th>Figure</th></tr>"
            "<tr><td>checked twice</td><td>Invoices paid</td><td>BV8a.1</td><td>1,870</td></tr>"
            "<tr><td>as invoiced</td><td>Invoices received</td><td>BV8a.2</td><td>1902</td></tr>"
            "</table>"
        ),
        values={"BV8a.1": N1, "BV8a.2": N2},
        comments={"BV8a.1": "checked twice", "BV8a.2": "as invoiced"},
    ),
    Habit(
        "trailing notes",
        top=(
            "BV8a.1: 1,870 (provisional, ONS revise next month)\n"
            "BV8a.2 - 1,902 - see note\n"
            "P09.M0: on track"
        ),
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "on_track"},
        comments={"BV8a.1": "provisional, ONS revise next month", "BV8a.2": "see note"},
    ),
    Habit(
        "a line naming a code that cannot be read",
        top="BV8a.1: 1,870\nBV8a.2 see attached spreadsheet\nP09.M0 on track but slipping",
        values={"BV8a.1": N1},
        rejected={"BV8a.2": "could not find a number", "P09.M0": "both delayed and on track"},
    ),
    Habit(
        "a code named inside a sentence, or alone on its line",
        # Neither is an answer, and neither may vanish into the general comment or a note:
        # each item gets a rejected line saying why, and stays outstanding.
        top="BV8a.1: 1,870\nThe BV8a.2 figure follows on Monday.\nP09.M0",
        values={"BV8a.1": N1},
        rejected={
            "BV8a.2": "names BV8a.2 but we could not read an answer from it",
            "P09.M0": "the line names the code but gives no answer",
        },
    ),
]

INLINE = [
    Habit(
        "interleaved under the quoted form lines",
        inline={
            "BV8a.1": "1,870",
            "BV8a.2": "1,902 (provisional)",
            "P09.M0": "Complete 20 April 2026\nHanded over to payroll.",
            "BV8a comment": "Two invoices disputed.",
        },
        values={"BV8a.1": N1, "BV8a.2": N2, "P09.M0": "complete"},
        comments={
            "BV8a.2": "provisional",
            "P09.M0": "Handed over to payroll.",
            "BV8a": "Two invoices disputed.",
        },
    ),
    Habit(
        "interleaved text that is no answer is a comment",
        inline={"BV8a.1": "1,870", "BV8a.2": "Waiting for the March reconciliation."},
        values={"BV8a.1": N1},
        comments={"BV8a.2": "Waiting for the March reconciliation."},
    ),
]


def _top(habit: Habit) -> str:
    return f"{GREETING}\n\n{habit.top}\n\n{COMMENT}\n\n{SIGNATURE}"


def _html_lines(habit: Habit) -> list[str]:
    body = habit.html or "".join(f"<div>{line}</div>" for line in habit.top.split("\n"))
    return [GREETING, "<br>", body, "<br>", COMMENT, "<br>", *SIGNATURE.split("\n")]


Builder = Callable[[bytes, Habit], bytes]

TOP_CLIENTS: dict[str, Builder] = {
    "outlook": lambda raw, h: clients.outlook_inline(raw, KEVIN, _top(h), history=HISTORY),
    "gmail": lambda raw, h: clients.gmail_top_posted(raw, KEVIN, _top(h), history=HISTORY),
    "apple-mail": lambda raw, h: clients.apple_mail(raw, KEVIN, _top(h), history=HISTORY),
    "thunderbird": lambda raw, h: clients.thunderbird(raw, KEVIN, _top(h), history=HISTORY),
    "outlook-web-html": lambda raw, h: clients.outlook_web_html_only(raw, KEVIN, _html_lines(h)),
    "apple-mail-html": lambda raw, h: clients.apple_mail(
        raw,
        KEVIN,
        _top(h),
        top_html="".join(f"<div>{x}</div>" for x in _html_lines(h)),
        html_only=True,
    ),
}

INLINE_TOP = f"{GREETING}\n\nAnswers below.\n\n{SIGNATURE}"
INLINE_CLIENTS: dict[str, Builder] = {
    "outlook": lambda raw, h: clients.outlook_inline(
        raw, KEVIN, INLINE_TOP, h.inline, history=HISTORY
    ),
    "gmail": lambda raw, h: clients.gmail_top_posted(
        raw, KEVIN, INLINE_TOP, inline=h.inline, history=HISTORY
    ),
    "apple-mail": lambda raw, h: clients.apple_mail(
        raw, KEVIN, INLINE_TOP, h.inline, history=HISTORY
    ),
    "thunderbird": lambda raw, h: clients.thunderbird(
        raw, KEVIN, INLINE_TOP, h.inline, history=HISTORY
    ),
    "outlook-web-html": lambda raw, h: clients.outlook_web_inline_html(
        raw, KEVIN, [GREETING, "Answers below.", *SIGNATURE.split("\n")], h.inline
    ),
}

CASES = [
    pytest.param(habit, builder, COMMENT, id=f"{habit.name}-{client}")
    for habit in HABITS
    for client, builder in TOP_CLIENTS.items()
] + [
    pytest.param(habit, builder, "Answers below.", id=f"{habit.name}-{client}")
    for habit in INLINE
    for client, builder in INLINE_CLIENTS.items()
]


def stored(world: PipelineWorld) -> Stored:
    """Kevin's April values, statuses, comments and rejected answers, as stored."""
    with world.sessions() as s:
        april = s.scalars(select(m.Period.id).where(m.Period.code == "2026-04")).one()
        values: dict[str, object] = {}
        rejected: dict[str, str] = {}
        for code, value in s.execute(
            select(m.Component.code, m.ComponentValue)
            .join(m.Component)
            .where(m.ComponentValue.period_id == april, m.ComponentValue.source == "email")
        ):
            if value.is_current:
                values[code] = value.value
            elif value.state.value == "rejected":
                rejected[code] = value.reason or ""
        for code, update in s.execute(
            select(m.Milestone.code, m.MilestoneUpdate)
            .join(m.Milestone)
            .where(m.MilestoneUpdate.period_id == april)
        ):
            if update.is_current:
                values[code] = update.status.value if update.status else None
            elif update.state.value == "rejected":
                rejected[code] = update.reason or ""
        comments: dict[str, str] = {}
        general = None
        for row in s.scalars(
            select(m.Commentary).where(m.Commentary.period_id == april, m.Commentary.is_current)
        ):  # fmt: skip
            if row.subject == CommentSubject.GENERAL:
                general = row.body
            elif row.component_id is not None:
                comments[s.get_one(m.Component, row.component_id).code] = row.body
            elif row.milestone_id is not None:
                comments[s.get_one(m.Milestone, row.milestone_id).code] = row.body
            elif row.indicator_id is not None:
                comments[s.get_one(m.Indicator, row.indicator_id).code] = row.body
    return Stored(values, comments, general, rejected)


@pytest.mark.parametrize(("habit", "build", "general"), CASES)
def test_answer_habit(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    habit: Habit,
    build: Builder,
    general: str,
) -> None:
    world = april_requests_sent(sessions, sample_register)
    raw = build(world.request_raw("kevin.walsh@ashdown.example"), habit)
    world.ingest(raw)
    got = stored(world)
    assert got.values == habit.values
    assert got.comments == habit.comments
    assert got.general == general
    assert set(got.rejected) == set(habit.rejected)
    for code, reason in habit.rejected.items():
        assert reason in got.rejected[code]
    # The confirmation names every rejected answer with its reason, and no general comment
    # that holds one.
    [confirmation] = world.outbox("confirmation")
    text = " ".join(clients.plain_text(clients.parsed(confirmation.raw)).split())
    for code, reason in habit.rejected.items():
        assert code in text
        assert reason in text


# --------------------------------------------------------------------------------------------
# The property, through the pipeline: any form of the sample council, any items, any habit
# --------------------------------------------------------------------------------------------

PEOPLE = (
    "Kevin Walsh <kevin.walsh@ashdown.example>",
    "Amy Lawson <amy.lawson@ashdown.example>",
    "Jason Reid <jason.reid@ashdown.example>",
    "Natalie Price <natalie.price@ashdown.example>",
    "Fiona Grant <fiona.grant@ashdown.example>",
)
PROPERTY_HABITS = ("colon", "equals", "dash", "tab", "spaces", "bracket", "title", "table")
PROPERTY_CLIENTS = ("outlook", "gmail", "apple-mail", "thunderbird")
_FORM_LINE = re.compile(r"^\[([^\]\s]+)\] (.*?)(?: \(([^()]*)\))?:$")


@dataclass(frozen=True)
class FormEntry:
    """One value or status line of a request form, with the figures shown under it."""

    code: str
    title: str
    status: bool
    shown: tuple[Decimal, ...]  # last period, same period last year
    low: Decimal
    high: Decimal


def form_entries(form: str) -> list[FormEntry]:
    """The items of a request's text form, read back from it."""
    entries: list[FormEntry] = []
    lines = form.split("\n")
    for i, line in enumerate(lines):
        m = _FORM_LINE.match(line)
        if m is None or " comment" in m.group(1):
            continue
        context = []
        for below in lines[i + 1 :]:
            if not below.startswith("    "):
                break
            context.append(below)
        text = " ".join(context)
        shown = tuple(
            Decimal(figure.replace(",", ""))
            for figure in re.findall(r"(?:Last period|Same period last year): (\d[\d,]*)", text)
        )
        allowed = re.search(r"Allowed: ([\d,]+)\D+([\d,]+)", text)
        low, high = (
            (Decimal(allowed.group(1).replace(",", "")), Decimal(allowed.group(2).replace(",", "")))
            if allowed
            else (Decimal(0), Decimal(10**6))
        )
        status = "Answer one of" in text
        entries.append(FormEntry(m.group(1), m.group(2), status, shown, low, high))
    return entries


@st.composite
def property_answers(draw: st.DrawFn, entry: FormEntry) -> tuple[str, str, object]:
    """(habit, typed, stored) for one item: a plausible figure (near what the form shows,
    within the allowed range: nothing is held), or a status."""
    habit = draw(st.sampled_from((*PROPERTY_HABITS, "inline")))
    if entry.status:
        typed, stored_as = draw(
            st.sampled_from(
                [("on track", "on_track"), ("at risk", "at_risk"), ("delayed", "delayed")]
            )
        )
        return habit, typed, stored_as
    base = next(s for s in entry.shown if s > 0)
    low = max(entry.low, (base / 2).to_integral_value())
    high = min(entry.high, base * 2)
    figure = draw(st.integers(int(low), int(max(low, high))))
    typed = f"{figure:,}" if draw(st.booleans()) else str(figure)
    return habit, typed, Decimal(figure)


def property_reply(
    raw: bytes,
    sender: str,
    client: str,
    entries: dict[str, FormEntry],
    chosen: dict[str, tuple[str, str]],
) -> bytes:
    top_lines, table, inline = [], [], {}
    for code, (habit, typed) in chosen.items():
        title = entries[code].title
        if habit == "inline":
            inline[code] = typed
        elif habit == "table":
            table.append(f"{code}\t{typed}\t")
        else:
            top_lines.append(
                {
                    "colon": f"{code}: {typed}",
                    "equals": f"{code} = {typed}",
                    "dash": f"{code} - {typed}",
                    "tab": f"{code}\t{typed}",
                    "spaces": f"{code}  {typed}",
                    "bracket": f"[{code}] {typed}",
                    "title": f"{code}\t{title}\t{typed}",
                }[habit]
            )
    if table:
        top_lines += ["", "Code\tValue\tComment", *table]
    top = f"{GREETING}\n\n" + "\n".join(top_lines) + f"\n\n{SIGNATURE}"
    if client == "outlook":
        return clients.outlook_inline(raw, sender, top, inline, history=HISTORY)
    if client == "gmail":
        return clients.gmail_top_posted(raw, sender, top, inline=inline, history=HISTORY)
    if client == "apple-mail":
        return clients.apple_mail(raw, sender, top, inline, history=HISTORY)
    return clients.thunderbird(raw, sender, top, inline, history=HISTORY)


def stored_for(world: PipelineWorld, codes: set[str]) -> dict[str, object]:
    """The current April values and statuses stored from email for ``codes``."""
    got = stored(world)
    return {code: value for code, value in got.values.items() if code in codes}


#: The property tests restore a SQLite file between examples; see ``fresh_world``.
ONLY_SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def fresh_world(
    sessions: sessionmaker[Session], sample_register: SampleRegister, backend: str
) -> Callable[[], PipelineWorld]:
    """A new copy of the April world for each hypothesis example: the SQLite database file
    is restored from a copy taken after the requests went out. The tests that use it run on
    SQLite only (``ONLY_SQLITE``): one backend is enough for the property, and the table
    above runs on both."""
    assert backend == "sqlite"
    world = april_requests_sent(sessions, sample_register)
    engine = sessions.kw["bind"]
    path = engine.url.database
    saved = sqlite3.connect(":memory:")
    engine.dispose()
    with sqlite3.connect(path) as source:
        source.backup(saved)

    def fresh() -> PipelineWorld:
        engine.dispose()
        with sqlite3.connect(path) as target:
            saved.backup(target)
        return PipelineWorld(world.sessions)

    return fresh


@ONLY_SQLITE
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_form_any_items_any_habit_stores_exactly_the_answers(
    fresh_world: Callable[[], PipelineWorld], data: st.DataObject
) -> None:
    world = fresh_world()
    sender = data.draw(st.sampled_from(PEOPLE))
    address = sender.split("<")[1].rstrip(">")
    raw = world.request_raw(address)
    entries = {e.code: e for e in form_entries(clients.plain_text(clients.parsed(raw)))}
    # Figures are drawn near one the form shows, so the plausibility check (issue 13, part 3)
    # holds none; an item showing no figure to be near is left out.
    answerable = sorted(code for code, e in entries.items() if e.status or any(e.shown))
    codes = data.draw(st.lists(st.sampled_from(answerable), unique=True))
    drawn = {code: data.draw(property_answers(entries[code])) for code in codes}
    client = data.draw(st.sampled_from(PROPERTY_CLIENTS))
    reply = property_reply(
        raw, sender, client, entries, {c: (h, t) for c, (h, t, _s) in drawn.items()}
    )
    world.ingest(reply)
    assert stored_for(world, set(entries)) == {c: s for c, (_h, _t, s) in drawn.items()}
    got = stored(world)
    assert got.rejected == {} and got.comments == {}
    assert got.general is None


@ONLY_SQLITE
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sender=st.sampled_from(PEOPLE), client=st.sampled_from(PROPERTY_CLIENTS))
def test_an_untouched_quoted_form_stores_nothing(
    fresh_world: Callable[[], PipelineWorld], sender: str, client: str
) -> None:
    world = fresh_world()
    raw = world.request_raw(sender.split("<")[1].rstrip(">"))
    world.ingest(property_reply(raw, sender, client, {}, {}))
    got = stored(world)
    assert got == Stored({}, {}, None, {})
