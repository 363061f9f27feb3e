"""Rendering every kind of email from realistic views: subjects, text, HTML and escaping."""

from __future__ import annotations

import dataclasses
import re

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.compose.form import MAX_LINE, form_lines, ordered_codes, parse_back
from mailcapture.compose.render import Rendered, UnknownKindError, environment, kinds, render
from mailcapture.compose.views import (
    Council,
    EscalationView,
    FailureView,
    OverdueLine,
    Person,
    ReminderView,
    RequestView,
    ReturnsRow,
    SummaryView,
)
from tests.compose.samples import IMG, ITEMS, SCRIPT, item

COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
SAM = Person("Sam Lee", "sam.lee@ashdown.example")
JANE = Person("Jane Doe", "jane.doe@ashdown.example")
RICHARD = Person("Richard Okafor", "richard.okafor@ashdown.example")
ANN = Person("Ann Patel", "ann.patel@ashdown.example")
TEAM = Person("Performance Team", "performance@ashdown.example")
DUE = "Friday 15 May 2026, 5pm"
KINDS = (
    "request",
    "reminder",
    "escalation_owner",
    "escalation_head",
    "returns_summary",
    "outbox_failure",
)


LINES = (
    OverdueLine(SAM, ITEMS[:2], "K7Q2ZP"),
    OverdueLine(ANN, ITEMS[3:], "M3X9TA"),
)


def request_view(**kw: object) -> RequestView:
    view = RequestView(COUNCIL, SAM, "2026-04", "April 2026", "K7Q2ZP", DUE, ITEMS)
    return dataclasses.replace(view, **kw)


def reminder_view(**kw: object) -> ReminderView:
    view = ReminderView(
        COUNCIL, SAM, "2026-04", "April 2026", "K7Q2ZP", DUE, ITEMS[1:3], step=1, days_left=3
    )
    return dataclasses.replace(view, **kw)


def escalation_view(**kw: object) -> EscalationView:
    view = EscalationView(COUNCIL, JANE, "owner", "2026-04", "April 2026", DUE, 2, LINES)
    return dataclasses.replace(view, **kw)


def head_view(**kw: object) -> EscalationView:
    fields: dict[str, object] = {
        "recipient": RICHARD,
        "level": "escalation_owner",
        "working_days_overdue": 5,
        "department": "Resources",
        "owners_told": (JANE,),
        "owners_told_on": "Tuesday 19 May 2026",
    }
    return escalation_view(**(fields | kw))


def summary_view(**kw: object) -> SummaryView:
    view = SummaryView(
        COUNCIL,
        TEAM,
        "2026-04",
        "April 2026",
        "monthly",
        DUE,
        rows=(
            ReturnsRow("Finance", 10, 8, 6, 2, 2),
            ReturnsRow("Revenues and Benefits", 5, 5, 5, 0, 0),
        ),
        totals=ReturnsRow("Total", 15, 13, 11, 2, 2),
        outstanding=LINES,
        as_at="Monday 18 May 2026, 9am",
    )
    return dataclasses.replace(view, **kw)


def failure_view(**kw: object) -> FailureView:
    view = FailureView(
        COUNCIL,
        TEAM,
        failed_recipient="sam.lee@ashdown.example",
        kind="request",
        subject=f"Performance return for April 2026 due {DUE} [MC-K7Q2ZP]",
        attempts=6,
        last_error="recipient sam.lee@ashdown.example refused: 550 5.1.1 User unknown",
        queued_at="Friday 1 May 2026, 9:00am",
    )
    return dataclasses.replace(view, **kw)


SAMPLES = {
    "request": request_view,
    "reminder": reminder_view,
    "escalation_owner": escalation_view,
    "escalation_head": head_view,
    "returns_summary": summary_view,
    "outbox_failure": failure_view,
}


# ------------------------------------------------------------------------ every kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_subject_text_and_html(kind: str) -> None:
    rendered = render(kind, SAMPLES[kind]())
    assert isinstance(rendered, Rendered)
    assert rendered.subject.strip() == rendered.subject
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "April 2026" in rendered.subject or "sam.lee@ashdown.example" in rendered.subject
    for body in (rendered.text, rendered.html):
        assert body.endswith("\n") and not body.endswith("\n\n")
        assert "\r" not in body
        assert "Ashdown District Council" in body
        assert "performance@ashdown.example" in body
        assert "automatic email" in body
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f"<title>{rendered.subject}</title>" in rendered.html
    # Only the request and reminder carry the token a reply is matched by.
    has_token = re.search(r"\[MC-[A-Z0-9]+\]", rendered.subject) is not None
    assert has_token == (kind in ("request", "reminder"))


@pytest.mark.parametrize("kind", KINDS)
def test_sample_text_stays_within_78_characters(kind: str) -> None:
    text = render(kind, SAMPLES[kind]()).text
    assert [line for line in text.splitlines() if len(line) > MAX_LINE] == []


@pytest.mark.parametrize("kind", KINDS)
def test_html_has_no_external_resources_or_scripts(kind: str) -> None:
    html = render(kind, SAMPLES[kind]()).html.lower()
    for banned in ("http:", "https:", "<link", "<script", "<style", "<img", "src=", "<form"):
        assert banned not in html


def test_kinds_lists_every_template_pair_but_not_partials() -> None:
    assert set(KINDS) <= set(kinds())
    assert not any(kind.startswith("_") for kind in kinds())


@pytest.mark.parametrize("kind", ["nonsense", "_layout", "../request", "Request", ""])
def test_unknown_kind_is_a_clear_error(kind: str) -> None:
    with pytest.raises(UnknownKindError, match=r"unknown email kind.*known kinds are.*request"):
        render(kind, request_view())


def test_a_known_kind_refuses_the_wrong_view() -> None:
    with pytest.raises(TypeError, match=r"reminder.*ReminderView"):
        render("reminder", request_view())


def test_environment_is_cached_strict_and_escapes_html_only() -> None:
    env = environment()
    assert environment() is env
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ view.missing }}").render(view=request_view())
    assert env.get_template("_form.html").render(view=request_view(items=ITEMS))
    assert env.autoescape("x.html") and not env.autoescape("x.txt")  # type: ignore[operator]


# ------------------------------------------------------------------------ the request


def test_request_subject_names_period_due_date_and_token() -> None:
    subject = render("request", request_view()).subject
    assert subject == f"Performance return for April 2026 due {DUE} [MC-K7Q2ZP]"


def test_request_text_explains_how_to_answer() -> None:
    text = render("request", request_view()).text
    flat = " ".join(text.split())
    assert "Dear Sam Lee," in text
    for phrase in (
        "Reply to this email",
        "after its colon",
        "in the quoted copy of this email, as Outlook does",
        'at the top of your reply, such as "BV8a.1: 1234"',
        'a colon, "=", " - ", a tab or spaces will all do',
        "on a line of its own just under the form line",
        "header row names a Code and a Value column",
        'kept as that item\'s comment, for example "1234 (provisional)"',
        "write n/a and why",
        "general comment anywhere above the form",
        "the latest value counts",
        DUE,
    ):
        assert phrase in flat
    assert "[MC-K7Q2ZP]" in text


def test_request_text_contains_the_form_verbatim_and_parses_back() -> None:
    text = render("request", request_view()).text
    assert "\n".join(form_lines(ITEMS)) in text
    assert parse_back(text) == ["BV8a.1", "BV8a.2", "BV9.1", "P07.M0"]


def test_request_to_a_delegate_says_for_whom() -> None:
    rendered = render("request", request_view(on_behalf_of=JANE))
    assert "delegate of Jane Doe" in " ".join(rendered.text.split())
    assert "delegate of Jane Doe" in rendered.html
    assert "delegate" not in render("request", request_view()).text


def test_request_html_is_an_accessible_table_and_says_to_reply() -> None:
    html = render("request", request_view()).html
    groups = ["Finance", "Revenues and Benefits", "Leisure centre refurbishment"]
    assert html.count("<table") == len(groups)
    for group in groups:
        assert f">{group}</caption>" in html
    headers = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', html)
    assert headers[:7] == [
        "Code",
        "Item",
        "Unit",
        "Last period",
        "Same period last year",
        "Target",
        "Allowed range",
    ]
    assert len(headers) == 7 * len(groups)
    for value in ("BV8a.1", "1,480", "1,402", "97%", "0 to 20,000", "on track"):
        assert re.search(rf"<td[^>]*>{re.escape(value)}</td>", html)
    assert "Answer by replying to this email" in html
    assert "forms do not work in email" in html
    # The same form lines ride along in the HTML, for replies written in place there.
    assert "[BV8a.1] Undisputed invoices paid within 30 days (number):" in html


def test_a_milestone_only_request_uses_a_status_example() -> None:
    text = render("request", request_view(items=ITEMS[3:])).text
    assert '"P07.M0: on track"' in " ".join(text.split())


# ------------------------------------------------------------------------ the reminder


@pytest.mark.parametrize(
    ("days_left", "in_subject", "in_text"),
    [
        (3, "due in 3 working days", "is due in 3 working days"),
        (1, "due in 1 working day", "is due in 1 working day,"),
        (0, "due today", "is due today"),
        (-1, "overdue", "is now overdue"),
    ],
)
def test_reminder_says_how_long_is_left(days_left: int, in_subject: str, in_text: str) -> None:
    rendered = render("reminder", reminder_view(days_left=days_left))
    assert in_subject in rendered.subject
    assert rendered.subject.endswith("[MC-K7Q2ZP]")
    assert in_text in " ".join(rendered.text.split())


def test_reminder_lists_only_the_outstanding_items_as_a_form() -> None:
    rendered = render("reminder", reminder_view())
    assert parse_back(rendered.text) == ["BV8a.2", "BV9.1"]
    assert "BV8a.1" not in rendered.html and "BV8a.1" not in rendered.text
    assert "friendly reminder" in rendered.text
    assert "Reply to this email" in rendered.text


# ------------------------------------------------------------------------ escalations


def test_escalation_to_owner_lists_who_owes_what() -> None:
    rendered = render("escalation_owner", escalation_view())
    flat = " ".join(rendered.text.split())
    assert "Dear Jane Doe," in rendered.text
    assert "returns for your indicators are 2 working days overdue" in flat
    assert "Sam Lee <sam.lee@ashdown.example>, 2 items" in rendered.text
    assert "    - BV8a.1 Undisputed invoices paid within 30 days" in rendered.text
    assert "    - P07.M0 Leisure centre refurbishment - overall progress" in rendered.text
    assert parse_back(rendered.text) == []  # a list, not a form to fill in
    assert "2 working days late" in rendered.subject
    assert "Ann Patel" in rendered.html and "P07.M0" in rendered.html


def test_escalation_to_head_is_firmer_and_says_the_owner_was_told() -> None:
    rendered = render("escalation_head", head_view())
    flat = " ".join(rendered.text.split())
    assert "Dear Richard Okafor," in rendered.text
    assert "returns from Resources are 5 working days overdue" in flat
    assert "The indicator owner, Jane Doe, was told on Tuesday 19 May 2026" in flat
    assert "without further delay" in flat
    assert rendered.subject.startswith("Escalation:")
    assert "5 working days overdue" in rendered.subject
    assert "Jane Doe" in rendered.html and "without further delay" in rendered.html


def test_escalation_to_head_names_several_owners() -> None:
    rendered = render("escalation_head", head_view(owners_told=(JANE, ANN)))
    assert "The indicator owners (Jane Doe, Ann Patel) were told" in " ".join(rendered.text.split())


# ------------------------------------------------------------------------ summary, failure


def test_returns_summary_table_and_outstanding_list() -> None:
    rendered = render("returns_summary", summary_view())
    lines = rendered.text.splitlines()
    header = next(line for line in lines if line.startswith("Service area"))
    assert header.split()[2:] == ["Expected", "Received", "On", "time", "Late", "Outstanding"]
    assert "Finance                             10         8        6     2            2" in lines
    assert "Total                               15        13       11     2            2" in lines
    assert "Still outstanding:" in lines
    assert "    - BV8a.2 All undisputed invoices" in lines
    assert rendered.subject == "Returns for April 2026 (monthly): 13 of 15 received, 2 outstanding"
    html = rendered.html
    assert "<tfoot>" in html and '<th scope="row"' in html
    assert re.search(r"Revenues and Benefits</th>\s*<td[^>]*>5</td>", html)


def test_returns_summary_with_nothing_outstanding() -> None:
    rendered = render("returns_summary", summary_view(outstanding=()))
    assert "Nothing is outstanding." in rendered.text
    assert "Nothing is outstanding." in rendered.html


def test_outbox_failure_says_what_where_how_often_and_what_to_do() -> None:
    rendered = render("outbox_failure", failure_view())
    text = rendered.text
    assert "  Recipient:   sam.lee@ashdown.example" in text
    assert "  Attempts:    6" in text
    assert "550 5.1.1 User" in text
    assert "What to do:" in text
    assert "register" in text
    assert rendered.subject == "Email not delivered to sam.lee@ashdown.example (request)"
    assert "550 5.1.1 User unknown" in rendered.html


# ------------------------------------------------------------------------ escaping


def hostile_views() -> dict[str, object]:
    evil_person = Person(f"Evil {SCRIPT} {IMG}", "evil@ashdown.example")
    evil_item = dataclasses.replace(ITEMS[0], title=f"{IMG}{SCRIPT}", group=SCRIPT)
    evil_line = OverdueLine(evil_person, (evil_item,), "K7Q2ZP")
    return {
        "request": request_view(recipient=evil_person, items=(evil_item, *ITEMS[1:])),
        "reminder": reminder_view(recipient=evil_person, items=(evil_item,)),
        "escalation_owner": escalation_view(lines=(evil_line,)),
        "escalation_head": head_view(lines=(evil_line,)),
        "returns_summary": summary_view(
            outstanding=(evil_line,), rows=(ReturnsRow(SCRIPT, 1, 0, 0, 0, 1),)
        ),
        "outbox_failure": failure_view(last_error=f"550 {SCRIPT} {IMG}", subject=IMG),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_html_escapes_hostile_titles_and_names(kind: str) -> None:
    rendered = render(kind, hostile_views()[kind])
    assert "<script" not in rendered.html
    assert "<img" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    # The text part is not HTML: it shows what was written, unescaped.
    assert SCRIPT in rendered.text
    assert "&lt;" not in rendered.text and "&#34;" not in rendered.text


def test_text_form_carries_the_hostile_title_unescaped() -> None:
    text = render("request", hostile_views()["request"]).text
    assert f"[BV8a.1] {IMG}{SCRIPT} (number):" in text
    assert f"Dear Evil {SCRIPT} {IMG}," in " ".join(text.split())


# ------------------------------------------------------------------------ properties

codes = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}(\.[A-Za-z0-9]{1,6}){0,2}", fullmatch=True)
# Long text must be common, not a rare draw: a title only gets shortened past ~60 characters.
words = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=14),
    min_size=1,
    max_size=30,
).map(" ".join)
texts = st.one_of(st.text(max_size=40), st.text(min_size=70, max_size=300), words)


@st.composite
def requests(draw: st.DrawFn) -> RequestView:
    item_codes = draw(st.lists(codes, min_size=1, max_size=10, unique_by=str.casefold))
    groups = draw(st.lists(texts, min_size=1, max_size=3))
    items = []
    for code in item_codes:
        kind = draw(st.sampled_from(["value", "status"]))
        items.append(
            item(
                code,
                draw(texts),
                draw(st.sampled_from(groups)),
                kind=kind,
                unit=draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz %£/", max_size=16)),
                indicator_code=draw(codes) if kind == "value" else None,
                indicator_title=draw(st.none() | texts),
                last_period=draw(st.none() | texts),
                same_period_last_year=draw(st.none() | texts),
                target=draw(st.none() | texts),
                allowed=draw(st.none() | texts),
            )
        )
    return request_view(items=tuple(items))


@settings(max_examples=100, deadline=None)
@given(requests())
def test_rendered_request_parses_back_to_exactly_the_requested_codes(view: RequestView) -> None:
    rendered = render("request", view)
    assert parse_back(rendered.text) == ordered_codes(view.items)
    assert [line for line in rendered.text.splitlines() if len(line) > MAX_LINE] == []
    assert "\n".join(form_lines(view.items)) in rendered.text
