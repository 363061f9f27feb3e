"""The emails that answer a report reply: the confirmation and the query notice.

Rendered from realistic views and checked for their words, the 78-character limit, escaping,
and the property that matters most: replying to either can only answer what it should (the
confirmation offers no answer lines at all; the query notice offers exactly the request's
form lines for the queried figures, empty after the colon).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from mailcapture.compose import report_views as rv
from mailcapture.compose.form import MAX_LINE
from mailcapture.compose.render import kinds, render
from mailcapture.compose.views import Council, FormItem, Person
from mailcapture.parsing.form import find_form_lines, read_reply
from mailcapture.parsing.report_reply import listed_codes, read_report_reply
from tests.compose.samples import IMG, SCRIPT

COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
MARK = Person("Mark Ellison", "mark.ellison@ashdown.example")
KEVIN = Person("Kevin Walsh", "kevin.walsh@ashdown.example")
A = rv.AnswerLine


def figure(code: str, title: str, stored: str) -> rv.QueriedFigure:
    item = FormItem(
        code=code,
        title=title,
        kind="value",
        unit="number",
        indicator_code="BV8a",
        indicator_title="Percentage of undisputed invoices paid within 30 days",
        group="",
        last_period=None,
        same_period_last_year=None,
        target=None,
        allowed=None,
    )
    return rv.QueriedFigure(item, stored)


def notice(**changes: object) -> rv.QueryNoticeView:
    view = rv.QueryNoticeView(
        council=COUNCIL,
        recipient=KEVIN,
        owner=MARK,
        indicator_code="BV8a",
        indicator_title="Percentage of undisputed invoices paid within 30 days",
        indicator_value="94.9%",
        report_period_label="April 2026",
        period_label="April 2026",
        token="k7q2zpabcdefghij",
        reason="1,234 of 1,300 looks low;\nplease check BV8a.1 against the ledger",
        figures=(
            figure("BV8a.1", "Undisputed invoices paid within 30 days", "1,234"),
            figure("BV8a.2", "Undisputed invoices received", "1,300"),
        ),
        open_until="Tuesday 26 May 2026, 9am",
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def confirmation(**changes: object) -> rv.ReportAnswerConfirmationView:
    view = rv.ReportAnswerConfirmationView(
        council=COUNCIL,
        recipient=MARK,
        report_title="monthly indicator owner report",
        period_label="April 2026",
        token="k7q2zpabcdefghij",
        approved=(A("BV8a", "Percentage of undisputed invoices paid within 30 days", "94.9%"),),
        queried=(
            A("NI181", "Time taken to process claims", "[NI181 approve]: yes", "kevin@x.example"),
        ),
        commented=(A("RES", "Resources", "[RES comment]: steady quarter"),),
        refused=(A("BV12", "Sickness", "approve", "only its owner can sign it off"),),
        awaiting=(A("LFIN01", "Debt recovered", "12.5%"),),
        notes=("ZZ99 is not in this report; [ZZ99 approve] was not taken",),
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["query_notice", "report_answer_confirmation"])
def test_kinds_render_within_78_characters(kind: str) -> None:
    assert kind in kinds()
    view = notice() if kind == "query_notice" else confirmation()
    rendered = render(kind, view)
    assert "[MC-k7q2zpabcdefghij]" in rendered.subject
    assert [line for line in rendered.text.splitlines() if len(line) > MAX_LINE] == []
    html = rendered.html
    assert html.startswith("<!DOCTYPE html>")
    for table in re.findall(r"<table.*?</table>", html, re.DOTALL):
        assert "<caption" in table and '<th scope="col"' in table
    for banned in ("http:", "https:", "<script", "<style", "<img", "src="):
        assert banned not in html.lower()


def test_confirmation_says_what_happened() -> None:
    rendered = render("report_answer_confirmation", confirmation())
    assert rendered.subject == (
        "Received: your answer to the monthly indicator owner report for April 2026 - "
        "1 approved, 1 queried, 1 comment, 1 not recorded [MC-k7q2zpabcdefghij]"
    )
    text = " ".join(rendered.text.split())
    assert "Signed off (no longer provisional): - BV8a" in text
    assert "Sent to: kevin@x.example" in text
    assert "Why: only its owner can sign it off" in text
    assert "Still awaiting your sign-off for April 2026: 1 indicator" in text
    empty = render(
        "report_answer_confirmation",
        confirmation(approved=(), queried=(), commented=(), awaiting=()),
    )
    assert "nothing recorded" not in empty.subject and "1 not recorded" in empty.subject
    assert "Nothing in this report awaits your sign-off" in empty.text


def test_replying_to_the_confirmation_answers_nothing() -> None:
    """Echoed answers ("[NI181 approve]: yes" as a reason) never read back as answers."""
    text = render("report_answer_confirmation", confirmation()).text
    assert listed_codes(text) == set()
    quoted = "\n".join("> " + line for line in text.splitlines())
    reading = read_report_reply(f"Thanks\n\nOn Tue, Mark wrote:\n{quoted}", text, ["NI181"])
    assert reading.answers == [] and not reading.approve_all


def test_query_notice_offers_only_the_queried_figures_empty() -> None:
    text = render("query_notice", notice()).text
    lines = [(f.code, f.answer) for f in find_form_lines(text)]
    assert lines == [("BV8a.1", ""), ("BV8a.2", "")]
    assert "You sent: 1,234" in text and "please check BV8a.1 against the ledger" in text
    # An untouched copy answers nothing; a typed correction is taken.
    reading = read_reply(text, text, ["BV8a.1", "BV8a.2", "BV8a"])
    assert reading.answers == []
    typed = text.replace("(number):\n    You sent: 1,234", "(number): 1,262\n    You sent: 1,234")
    reading = read_reply(typed, text, ["BV8a.1", "BV8a.2", "BV8a"])
    assert [(a.code, a.text) for a in reading.answers] == [("BV8a.1", "1,262")]


@pytest.mark.parametrize("hostile", [SCRIPT, IMG])
def test_html_escapes_what_people_typed(hostile: str) -> None:
    html = render("query_notice", notice(reason=hostile, recipient=Person(hostile, "k@x"))).html
    assert hostile not in html
    html = render(
        "report_answer_confirmation",
        confirmation(commented=(A("RES", hostile, hostile),), notes=(hostile,)),
    ).html
    assert hostile not in html
