"""The answer grammar (issue 13), as a property: whatever request form we sent, whichever of
its items the sender answers and in whichever habit, every answered item is read with its
value and nothing else is; an untouched quoted form gives nothing.

The form is rendered by the real request template from generated items, the reply is
written in one of the ways real clients quote (Gmail's '> ', Outlook's unprefixed copy under a
header block, Apple Mail's and Thunderbird's inline answers), and the values go through
:func:`parse_value` / :func:`parse_status` as the pipeline stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.compose.render import render
from mailcapture.compose.views import Council, FormItem, Person, RequestView
from mailcapture.demo.clients import quote_inline
from mailcapture.parsing.form import read_reply
from mailcapture.parsing.values import parse_status, parse_value, split_note

TODAY = date(2026, 5, 5)
STATUSES = "on track / at risk / delayed / complete (with the date)"
COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
SAM = Person("Sam Lee", "sam.lee@ashdown.example")
GMAIL = "On Fri, 1 May 2026 at 09:00, Ashdown Performance Team <performance@ashdown.example> wrote:"
OUTLOOK = (
    "________________________________\n"
    "From: Ashdown Performance Team <performance@ashdown.example>\n"
    "Sent: 01 May 2026 09:00\nTo: Sam Lee <sam.lee@ashdown.example>\n"
    "Subject: Performance return for April 2026\n"
)
WORDS = ("invoices", "paid", "received", "calls", "answered", "days", "claims", "new", "rent")

TOP_HABITS = (
    "colon",
    "equals",
    "dash",
    "en dash",
    "tab",
    "spaces",
    "bracket",
    "bracket dash",
    "title",
    "note",
    "table",
)
INLINE_HABITS = ("in place", "inline")


@dataclass(frozen=True)
class Given:
    """One item answered: the answer typed and what must be stored."""

    item: FormItem
    habit: str
    typed: str
    expected: object


@st.composite
def form_items(draw: st.DrawFn) -> tuple[FormItem, ...]:
    """One to six items with distinct codes (ignoring case), figures and statuses."""
    count = draw(st.integers(1, 6))
    items: list[FormItem] = []
    seen: set[str] = set()
    for n in range(count):
        status = draw(st.booleans())
        prefix = draw(st.from_regex(r"[A-Z]{1,3}[0-9]{1,3}[a-z]?", fullmatch=True))
        code = f"P{n:02d}.M{draw(st.integers(0, 9))}" if status else f"{prefix}.{n + 1}"
        if code.casefold() in seen:
            continue
        seen.add(code.casefold())
        title = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5)))
        title = title[0].upper() + title[1:]
        items.append(
            FormItem(
                code=code,
                title=title,
                kind="status" if status else "value",
                unit=STATUSES if status else "number",
                indicator_code=None if status else prefix,
                indicator_title=None if status else f"{title} indicator",
                group="Finance",
                last_period=None,
                same_period_last_year=None,
                target=None,
                allowed=None if status else "0 to 999,999",
            )
        )
    return tuple(items)


@st.composite
def answers(draw: st.DrawFn, item: FormItem, habits: tuple[str, ...]) -> Given:
    habit = draw(st.sampled_from(habits))
    if item.kind == "status" and habit == "note":
        habit = "colon"  # a status takes no trailing note (see values.split_note)
    if item.kind == "status":
        typed = draw(st.sampled_from(["on track", "at risk", "delayed", "Complete 20 April 2026"]))
        expected: object = parse_status(typed, TODAY).status
    else:
        figure = draw(st.integers(0, 999_999))
        typed = f"{figure:,}" if draw(st.booleans()) else str(figure)
        expected = Decimal(figure)
    if habit == "note":
        typed += draw(st.sampled_from([" (provisional)", " - see note", " (ONS revise it)"]))
    return Given(item, habit, typed, expected)


def top_line(given: Given) -> str:
    code, typed, title = given.item.code, given.typed, given.item.title
    return {
        "colon": f"{code}: {typed}",
        "equals": f"{code.lower()} = {typed}",
        "dash": f"{code} - {typed}",
        "en dash": f"{code} – {typed}",
        "tab": f"{code}\t{typed}",
        "spaces": f"{code}   {typed}",
        "bracket": f"[{code}] {typed}",
        "bracket dash": f"[{code}] - {typed}",
        "title": f"{code}\t{title}\t{typed}",
        "note": f"{code}: {typed}",
    }[given.habit]


def reply_for(sent: str, chosen: list[Given], style: str) -> str:
    top = [g for g in chosen if g.habit in TOP_HABITS and g.habit != "table"]
    table = [g for g in chosen if g.habit == "table"]
    lines = ["Hi Sam,", ""] + [top_line(g) for g in top]
    if table:
        lines += ["", "Code\tValue\tComment"] + [f"{g.item.code}\t{g.typed}\t" for g in table]
    lines += ["", "Thanks,", "Sam Lee", "Tel: 01632 960 123", ""]
    inline = {g.item.code: g.typed for g in chosen if g.habit == "inline"}
    in_place = {g.item.code: g.typed for g in chosen if g.habit == "in place"}
    form = "\n".join(
        f"{line} {in_place[code]}" if (code := _item_code(line)) in in_place else line
        for line in sent.split("\n")
    )
    if style == "outlook":
        body = OUTLOOK + "\n" + quote_inline(form, inline, blank=False, prefix="")
    else:
        body = GMAIL + "\n\n" + quote_inline(form, inline, blank=style == "apple-mail")
    return "\n".join(lines) + "\n" + body


def _item_code(line: str) -> str | None:
    if line.startswith("[") and line.endswith(":") and "]" in line:
        return line[1 : line.index("]")]
    return None


def stored(text: str, item: FormItem) -> object:
    """What the pipeline stores from a value's text."""
    if item.kind == "status":
        return parse_status(text, TODAY).status
    return parse_value(text, item.unit, TODAY).value


@settings(max_examples=300, deadline=None)
@given(
    items=form_items(),
    data=st.data(),
    style=st.sampled_from(["gmail", "outlook", "apple-mail", "thunderbird"]),
)
def test_every_answered_item_is_read_and_nothing_else(
    items: tuple[FormItem, ...], data: st.DataObject, style: str
) -> None:
    sent = render(
        "request", RequestView(COUNCIL, SAM, "2026-04", "April 2026", "K7Q", "Friday", items)
    ).text
    chosen_items = data.draw(st.lists(st.sampled_from(items), unique=True))
    habits = TOP_HABITS + INLINE_HABITS
    chosen = [data.draw(answers(item, habits)) for item in chosen_items]
    reply = reply_for(sent, chosen, style)
    codes = [i.code for i in items] + [i.indicator_code for i in items if i.indicator_code]
    reading = read_reply(reply, sent, codes)
    values = {a.code: a.text for a in reading.answers if a.kind == "value"}
    assert set(values) == {g.item.code for g in chosen}, reply
    for g in chosen:
        assert stored(values[g.item.code], g.item) == g.expected, (g, values)
        _figure, note = split_note(g.typed)
        comments = [
            a.text for a in reading.answers if a.kind == "comment" and a.code == g.item.code
        ]
        assert comments == ([note] if note else []), reply
    assert reading.conflicts == []
    assert reading.general_comment == "", reply


@settings(max_examples=100, deadline=None)
@given(items=form_items(), style=st.sampled_from(["gmail", "outlook", "apple-mail"]))
def test_an_untouched_quoted_form_gives_nothing(items: tuple[FormItem, ...], style: str) -> None:
    sent = render(
        "request", RequestView(COUNCIL, SAM, "2026-04", "April 2026", "K7Q", "Friday", items)
    ).text
    reply = reply_for(sent, [], style)
    codes = [i.code for i in items] + [i.indicator_code for i in items if i.indicator_code]
    reading = read_reply(reply, sent, codes)
    assert reading.answers == []
    assert reading.conflicts == [] and reading.ignored == []
    assert reading.general_comment == ""


@pytest.mark.parametrize(
    ("answer", "figure", "note"),
    [
        ("2401 (provisional, ONS revise next month)", "2401", "provisional, ONS revise next month"),
        ("2401 - see note", "2401", "see note"),
        ("£1,234.50 – awaiting invoices", "£1,234.50", "awaiting invoices"),
        ("1,480 invoices (two disputed)", "1,480 invoices", "two disputed"),
        ("97.5% (provisional).", "97.5%", "provisional"),
        # Not split: a note with a figure in it, a range, an estimate marker, n/a with a reason.
        ("1234 (was 1200)", "1234 (was 1200)", ""),
        ("10 - 12", "10 - 12", ""),
        ("120 (est)", "120 (est)", ""),
        ("n/a - system down", "n/a - system down", ""),
        ("12 15 (x)", "12 15 (x)", ""),
        ("on track (see note)", "on track (see note)", ""),
    ],
)
def test_split_note(answer: str, figure: str, note: str) -> None:
    assert split_note(answer) == (figure, note)


# --------------------------------------------------------------------------------------------
# The grammar's edges, one by one
# --------------------------------------------------------------------------------------------

FORM = """\
[BV8a.1] Undisputed invoices paid within 30 days (number):
    Last period: 1,480 | Allowed: 0 to 20,000
[BV8a.10] Invoices disputed (number):
    Last period: 12
[NI192] Household waste recycled (%):
    Allowed: 0% to 100%
[LB1.1] Budget variance (£):
    Allowed: -£500,000 to £500,000
[P07.M0] Leisure centre refurbishment - overall progress:
    Answer one of: on track / at risk / delayed / complete (with the date)
[P07.M0 comment]:"""
CODES = ["BV8a.1", "BV8a.10", "NI192", "LB1.1", "P07.M0"]


def values_of(reply: str, sent: str | None = FORM) -> dict[str, str]:
    return {a.code: a.text for a in read_reply(reply, sent, CODES).answers if a.kind == "value"}


def test_codes_match_exactly_but_for_case() -> None:
    assert values_of("bv8a.10 12\nBV8a.1 1,480\nni192 45.2%\n") == {
        "BV8a.10": "12",
        "BV8a.1": "1,480",
        "NI192": "45.2%",
    }
    # BV8a.1 is not the start of BV8a.100, nor of BV8a.1x.
    reading = read_reply("BV8a.100 5\nBV8a.1x 7\n", FORM, CODES)
    assert [a for a in reading.answers if a.kind == "value"] == []


def test_a_dash_before_a_digit_is_a_minus_only_where_negatives_are_allowed() -> None:
    assert values_of("BV8a.1 -1,480\nLB1.1 -2,000\n") == {"BV8a.1": "1,480", "LB1.1": "-2,000"}
    # After a colon a minus is a minus; without the form we sent, too (the range check then
    # holds or refuses it).
    assert values_of("BV8a.1: -5\n") == {"BV8a.1": "-5"}
    assert values_of("BV8a.1 -5\n", None) == {"BV8a.1": "-5"}


def test_a_line_naming_a_code_but_unreadable_is_an_answer_to_reject_never_a_comment() -> None:
    reading = read_reply("Hi,\n\nBV8a.1 see attached\n\nThanks, Fiona\n", FORM, CODES)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "value", "see attached")
    ]
    assert reading.general_comment == ""
    assert parse_value("see attached", "number", TODAY).kind == "rejected"


def test_an_unreadable_line_for_an_item_answered_elsewhere_is_its_comment() -> None:
    reading = read_reply("BV8a.1 went up, see below\nBV8a.1: 1,500\n", FORM, CODES)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "comment", "BV8a.1 went up, see below"),
        ("BV8a.1", "value", "1,500"),
    ]
    assert reading.conflicts == []


def test_a_code_named_inside_a_sentence_is_rejected_and_kept_out_of_the_general_comment() -> None:
    """Not stored, not hidden in the general comment, and not silent either: the item gets
    a rejected line with the sentence and the reason (issue 13)."""
    reading = read_reply(
        "BV8a.1: 1,500\nI think bv8a.10 will be late.\nAll else fine.\n", FORM, CODES
    )
    assert reading.general_comment == "All else fine."
    unread = [a for a in reading.answers if a.kind == "unread"]
    assert [(a.code, a.text) for a in unread] == [("BV8a.10", "I think bv8a.10 will be late.")]
    assert "names bv8a.10" in unread[0].reason


def test_a_code_named_inside_a_sentence_about_an_answered_item_is_only_noted() -> None:
    reading = read_reply("BV8a.1: 1,500\nBV8a.10: 20\nI think bv8a.10 will be late.\n", FORM, CODES)
    assert [a.kind for a in reading.answers] == ["value", "value"]
    assert any("names bv8a.10" in note for note in reading.ignored)


def test_a_code_alone_on_its_line_is_rejected_with_the_reason() -> None:
    reading = read_reply("BV8a.1\n", FORM, CODES)
    [unread] = reading.answers
    assert (unread.code, unread.kind, unread.text) == ("BV8a.1", "unread", "BV8a.1")
    assert "names the code but gives no answer" in unread.reason


def test_greetings_sign_offs_and_signatures_are_no_commentary() -> None:
    reply = (
        "Hello all,\n\nBV8a.1: 1,500\n\nThe rest follows next week.\n\nKind regards,\n\n"
        "Fiona Grant\nPerformance Officer\nTel: 01632 960 456\n"
    )
    assert read_reply(reply, FORM, CODES).general_comment == "The rest follows next week."
    # A sentence that only starts like a greeting or a sign-off is kept.
    reply = "Thanks for waiting: the system was down.\nHi, figures below were checked twice.\n"
    assert read_reply(reply, FORM, CODES).general_comment == reply.strip()


def test_a_long_text_after_a_sign_off_is_no_signature() -> None:
    body = "\n".join(f"Point {n} about the figures." for n in range(12))
    reply = f"Thanks,\nFiona\n{body}\n"
    assert read_reply(reply, FORM, CODES).general_comment == f"Fiona\n{body}"


def test_a_space_aligned_table_with_an_empty_cell() -> None:
    reply = (
        "Code      Value     Comment\n"
        "BV8a.1    1,480     provisional\n"
        "P07.M0              waiting for the surveyor\n"
        "LB1.1     -2,000\n"
    )
    reading = read_reply(reply, FORM, CODES)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "comment", "provisional"),
        ("BV8a.1", "value", "1,480"),
        ("P07.M0", "comment", "waiting for the surveyor"),
        ("LB1.1", "value", "-2,000"),
    ]
    assert reading.general_comment == ""


def test_a_table_ends_at_a_row_that_is_no_code_of_the_sender() -> None:
    reply = "Code\tValue\nBV8a.1\t1,480\nTotal\t1,480\n"
    reading = read_reply(reply, FORM, CODES)
    assert values_of(reply) == {"BV8a.1": "1,480"}
    assert reading.general_comment.split() == ["Total", "1,480"]


def test_interleaved_text_that_is_no_answer_is_the_comment_and_a_status_is_the_value() -> None:
    quoted = "\n".join("> " + line for line in FORM.split("\n"))
    quoted = quoted.replace(
        "> [BV8a.1] Undisputed invoices paid within 30 days (number):",
        "> [BV8a.1] Undisputed invoices paid within 30 days (number):\n"
        "Delayed by the contractor's insolvency",
    ).replace(
        "> [P07.M0] Leisure centre refurbishment - overall progress:",
        "> [P07.M0] Leisure centre refurbishment - overall progress:\n>\n\nat risk\n",
    )
    reading = read_reply(f"See below.\n\n{GMAIL}\n" + quoted, FORM, CODES)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "comment", "Delayed by the contractor's insolvency"),
        ("P07.M0", "value", "at risk"),
    ]
    assert reading.general_comment == "See below."


def test_interleaved_lines_never_reach_past_the_next_form_line() -> None:
    """Text under the whole quote (bottom-posting) is no quoted item's answer: the scan
    under the last item stops at the next line of ours."""
    quoted = "\n".join("> " + line for line in FORM.split("\n"))
    reply = f"{GMAIL}\n{quoted}\n>\n> Reference: [MC-K7Q]\n\n1,480\n\nThanks, Sam\n"
    reading = read_reply(reply, FORM + "\n\nReference: [MC-K7Q]", CODES)
    assert reading.answers == []
    assert reading.general_comment == "1,480"
