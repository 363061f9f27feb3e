"""The capture pipeline's emails: confirmation, rejection and bounce notices, delegation.

Each kind is rendered from realistic views and checked for its words, its subject, the
78-character line limit, escaping, and (for the confirmation) that replying to it can only
ever answer the outstanding form.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.compose.form import MAX_LINE, comment_codes, form_lines, ordered_codes, parse_back
from mailcapture.compose.message import Envelope, build_message
from mailcapture.compose.render import Rendered, kinds, render
from mailcapture.compose.views import (
    BounceView,
    ConfirmationView,
    ConfirmedLine,
    Council,
    DelegateForwardView,
    DelegateNoticeView,
    Person,
    RejectedLine,
    RejectionView,
)
from mailcapture.parsing.form import find_form_lines, read_reply
from tests.compose.samples import IMG, ITEMS, SCRIPT, item

COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
SAM = Person("Sam Lee", "sam.lee@ashdown.example")
JANE = Person("Jane Doe", "jane.doe@ashdown.example")
ANN = Person("Ann Patel", "ann.patel@ashdown.example")
TEAM = Person("Performance Team", "performance@ashdown.example")
STRANGER = Person("", "someone@elsewhere.example")
DUE = "Friday 15 May 2026, 5pm"
TOKEN = "K7Q2ZP"
NEW_KINDS = (
    "confirmation",
    "rejection_notice",
    "bounce_notice",
    "delegate_forward",
    "delegate_notice",
)
#: Kinds answered by replying: their subject carries the token, their text the form.
ANSWERABLE = ("confirmation", "delegate_forward")

ECHO_LABEL = "    You wrote: "
ECHO_INDENT = " " * len(ECHO_LABEL)


ALL_CODES = [*ordered_codes(ITEMS), *comment_codes(ITEMS)]

ACCEPTED = (
    ConfirmedLine("BV8a.1", "Undisputed invoices paid within 30 days", "1,234"),
    ConfirmedLine("BV8a.2", "All undisputed invoices", "1,265", "replaces 1,230"),
    ConfirmedLine(
        "P07.M0",
        "Leisure centre refurbishment - overall progress",
        "complete (3 May 2026)",
    ),
)
REJECTED = (
    RejectedLine("BV9.1", "12,345 12,500", "two numbers on one line - which one did you mean?"),
)
LONG_ANSWER = (
    "about 12,345 or maybe 12,500 once the late direct debits from the depot and the "
    "other offices are counted in, but I will need to check with finance first"
)


def confirmation_view(**kw: object) -> ConfirmationView:
    view = ConfirmationView(
        COUNCIL,
        SAM,
        "2026-04",
        "April 2026",
        TOKEN,
        DUE,
        accepted=ACCEPTED,
        rejected=REJECTED,
        outstanding=(ITEMS[2],),
        notes=("BV9.9 is not on your form; not taken",),
        comments=2,
        general_comment=True,
    )
    return dataclasses.replace(view, **kw)


def rejection_view(**kw: object) -> RejectionView:
    view = RejectionView(
        COUNCIL,
        STRANGER,
        "wrong_person",
        f"RE: Performance return for April 2026 due {DUE} [MC-{TOKEN}]",
        period_label="April 2026",
        rightful=JANE,
    )
    return dataclasses.replace(view, **kw)


def bounce_view(**kw: object) -> BounceView:
    view = BounceView(
        COUNCIL,
        TEAM,
        failed_address="sam.lee@ashdown.example",
        person_name="Sam Lee",
        diagnostic="smtp; 550 5.1.1 <sam.lee@ashdown.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        original_subject=f"Performance return for April 2026 due {DUE} [MC-{TOKEN}]",
        requests_affected=("April 2026", "2026/27 Q1"),
    )
    return dataclasses.replace(view, **kw)


def forward_view(**kw: object) -> DelegateForwardView:
    view = DelegateForwardView(
        COUNCIL,
        ANN,
        "2026-04",
        "April 2026",
        TOKEN,
        DUE,
        ITEMS,
        on_behalf_of=JANE,
        away_until="Monday 18 May 2026",
    )
    return dataclasses.replace(view, **kw)


def notice_view(**kw: object) -> DelegateNoticeView:
    view = DelegateNoticeView(COUNCIL, TEAM, JANE, ANN, "Monday 18 May 2026", "April 2026")
    return dataclasses.replace(view, **kw)


SAMPLES = {
    "confirmation": confirmation_view,
    "rejection_notice": rejection_view,
    "bounce_notice": bounce_view,
    "delegate_forward": forward_view,
    "delegate_notice": notice_view,
}


def flat(text: str) -> str:
    """Prose with its line breaks undone, to look for a sentence wherever it wrapped."""
    return " ".join(text.split())


def long_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > MAX_LINE]


# ------------------------------------------------------------------------ every kind


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_every_new_kind_renders_subject_text_and_html(kind: str) -> None:
    rendered = render(kind, SAMPLES[kind]())
    assert rendered.subject and rendered.subject.strip() == rendered.subject
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    for body in (rendered.text, rendered.html):
        assert body.endswith("\n") and not body.endswith("\n\n")
        assert "\r" not in body
        assert "Ashdown District Council" in body
        assert "performance@ashdown.example" in body
        assert "automatic email" in body
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f"<title>{html_lib.escape(rendered.subject)}</title>" in rendered.html
    has_token = f"[MC-{TOKEN}]" in rendered.subject
    assert has_token == (kind in ANSWERABLE)
    assert kind in kinds()


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_new_kinds_stay_within_78_characters(kind: str) -> None:
    assert long_lines(render(kind, SAMPLES[kind]()).text) == []


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_new_kinds_html_has_no_external_resources_or_scripts(kind: str) -> None:
    html = render(kind, SAMPLES[kind]()).html.lower()
    for banned in ("http:", "https:", "<link", "<script", "<style", "<img", "src=", "<form"):
        assert banned not in html


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_new_kinds_tables_have_captions_and_scoped_headers(kind: str) -> None:
    html = render(kind, SAMPLES[kind]()).html
    tables = re.findall(r"<table.*?</table>", html, re.DOTALL)
    for table in tables:
        assert "<caption" in table
        assert '<th scope="col"' in table or '<th scope="row"' in table
        assert "<th>" not in table and "<th " not in table.replace("<th scope=", "")
    assert "<style" not in html and "class=" not in html  # inline CSS only


@pytest.mark.parametrize("kind", [k for k in NEW_KINDS if k not in ANSWERABLE])
def test_notices_have_no_form_lines(kind: str) -> None:
    assert parse_back(render(kind, SAMPLES[kind]()).text) == []


# ------------------------------------------------------------------------ confirmation


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        (
            {"outstanding": ()},
            "Received: your April 2026 return - 3 accepted, 1 to correct [MC-K7Q2ZP]",
        ),
        (
            {},
            "Received: your April 2026 return - 3 accepted, 1 to correct, 1 outstanding "
            "[MC-K7Q2ZP]",
        ),
        (
            {"rejected": (), "outstanding": ITEMS[2:]},
            "Received: your April 2026 return - 3 accepted, 2 outstanding [MC-K7Q2ZP]",
        ),
        (
            {"rejected": (), "outstanding": ()},
            "Received: your April 2026 return - complete, 3 accepted [MC-K7Q2ZP]",
        ),
        (
            {"accepted": (), "outstanding": ()},
            "Received: your April 2026 return - 1 to correct [MC-K7Q2ZP]",
        ),
        (
            {"accepted": (), "rejected": (), "outstanding": ITEMS},
            "Received: your April 2026 return - comments only, 4 outstanding [MC-K7Q2ZP]",
        ),
        (
            {
                "accepted": (),
                "rejected": (),
                "outstanding": ITEMS,
                "comments": 0,
                "general_comment": False,
            },
            "Received: your April 2026 return - no answers found, 4 outstanding [MC-K7Q2ZP]",
        ),
        (
            {"on_behalf_of": JANE, "outstanding": ()},
            "Received: Jane Doe's April 2026 return - 3 accepted, 1 to correct [MC-K7Q2ZP]",
        ),
    ],
)
def test_confirmation_subject_says_what_happened(changes: dict[str, object], subject: str) -> None:
    assert render("confirmation", confirmation_view(**changes)).subject == subject


def test_confirmation_says_what_was_stored_exactly() -> None:
    text = render("confirmation", confirmation_view()).text
    lines = text.splitlines()
    assert "Dear Sam Lee," in lines
    assert "We have read it and stored 3 answers for April 2026" in flat(text)
    assert "Nothing was guessed" in flat(text)
    assert "What we stored:" in lines
    for code, title, stored in (
        ("BV8a.1", "Undisputed invoices paid within 30 days", "1,234"),
        ("BV8a.2", "All undisputed invoices", "1,265 (replaces 1,230)"),
        ("P07.M0", "Leisure centre refurbishment - overall progress", "complete (3 May 2026)"),
    ):
        at = lines.index(f"  - {code} {title}")
        assert lines[at + 1] == f"    Stored: {stored}"
    assert "We also stored 2 comments and your general comment." in flat(text)
    assert "the latest answer counts" in flat(text)


def test_confirmation_says_what_was_not_stored_why_and_how_to_correct() -> None:
    rendered = render("confirmation", confirmation_view())
    lines = rendered.text.splitlines()
    assert "1 answer could not be stored and needs correcting" in flat(rendered.text)
    assert "What we could not store:" in lines
    at = lines.index("  - BV9.1")
    assert lines[at + 1] == "    You wrote: 12,345 12,500"
    assert lines[at + 2] == "    Why:       two numbers on one line - which one did you mean?"
    assert (
        'reply to this email with the corrected line at the top of your reply, such as "BV9.1:'
        in flat(rendered.text)
    )
    html = rendered.html
    assert ">What we could not store</caption>" in html
    assert re.search(r"<td[^>]*>12,345 12,500</td>", html)
    assert "which one did you mean?" in html


def test_confirmation_prints_the_outstanding_form_which_parses_back() -> None:
    view = confirmation_view(outstanding=ITEMS[2:])
    rendered = render("confirmation", view)
    assert parse_back(rendered.text) == ["BV9.1", "P07.M0"]
    assert parse_back(rendered.text) == ordered_codes(view.outstanding)
    assert "\n".join(form_lines(view.outstanding)) in rendered.text
    assert "Still outstanding for April 2026: 2 items." in flat(rendered.text)
    # The HTML carries the same form, as tables and as lines for in-place replies.
    assert ">Revenues and Benefits</caption>" in rendered.html
    assert "[BV9.1] Council tax collected (£):" in rendered.html
    assert "[P07.M0 comment]:" in rendered.html
    # Items already answered are listed, never printed as form lines.
    assert "[BV8a.1]" not in rendered.text and "[BV8a.1]" not in rendered.html


def test_confirmation_with_nothing_outstanding_says_complete_and_has_no_form() -> None:
    rendered = render("confirmation", confirmation_view(rejected=(), outstanding=()))
    assert parse_back(rendered.text) == []
    assert "Nothing is outstanding for April 2026: your return is complete." in flat(rendered.text)
    assert "your return is complete" in rendered.html
    assert "Answer form" not in rendered.html
    assert "What we could not store" not in rendered.text


def test_confirmation_for_a_delegate_late_with_commentary_needed() -> None:
    view = confirmation_view(
        on_behalf_of=JANE, late=True, commentary_needed=("BV8a", "BV9"), rejected=()
    )
    rendered = render("confirmation", view)
    text = flat(rendered.text)
    assert "Thank you for your reply, sent for Jane Doe." in text
    assert "Answers are recorded as Jane Doe's return, sent by you." in text
    assert f"arrived after the deadline ({DUE}), so these answers are marked as late" in text
    assert "Please add a comment on BV8a and BV9, as they are red or getting worse." in text
    assert '"BV8a comment: your comment"' in text
    assert "Please add a comment on BV8a and BV9" in rendered.html
    assert "marked as late" in rendered.html
    plain = render("confirmation", confirmation_view()).text
    assert "marked as late" not in plain and "add a comment" not in plain
    assert "Jane" not in plain


def test_confirmation_lists_notes_numbered() -> None:
    notes = (
        "BV9.9 is not on your form; not taken",
        "BV8a.1: your mail program split the line, so we could not read an answer from it; "
        "please put the answer on the same line, after the colon",
    )
    rendered = render("confirmation", confirmation_view(notes=notes))
    lines = rendered.text.splitlines()
    assert "  1. BV9.9 is not on your form; not taken" in lines
    assert any(line.startswith("  2. BV8a.1: your mail program split") for line in lines)
    assert "stored nothing from it" in flat(rendered.text)
    assert "<ol" in rendered.html and notes[1] in rendered.html
    assert "noticed" not in render("confirmation", confirmation_view(notes=())).text


def test_confirmation_echo_of_a_long_answer_is_folded_under_itself() -> None:
    """The documented rule: flattened, folded at 63 characters, hanging under itself."""
    view = confirmation_view(rejected=(RejectedLine("BV9.1", LONG_ANSWER, "not a number"),))
    rendered = render("confirmation", view)
    lines = rendered.text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(ECHO_LABEL))
    echo = [lines[first].removeprefix(ECHO_LABEL)]
    for line in lines[first + 1 :]:
        if not line.startswith(ECHO_INDENT):
            break
        echo.append(line.removeprefix(ECHO_INDENT))
    assert len(echo) == 3
    assert " ".join(echo) == LONG_ANSWER  # folded, nothing lost
    assert all(len(line) <= MAX_LINE for line in lines)
    assert LONG_ANSWER in rendered.html  # the HTML shows it whole


def test_confirmation_echo_breaks_long_words_and_cuts_huge_answers() -> None:
    token = "x" * 150
    huge = "1,234 " * 200
    view = confirmation_view(
        rejected=(
            RejectedLine("BV9.1", token, "not a number"),
            RejectedLine("BV8a.2", huge + "\n\tend", "too long"),
        )
    )
    rendered = render("confirmation", view)
    assert long_lines(rendered.text) == []
    text = rendered.text
    assert "x" * 63 in text and "x" * 64 not in text
    huge_echo = text[text.index("  - BV8a.2\n") :].split("    Why:")[0]
    assert huge_echo.rstrip().endswith("...")
    assert huge_echo.count("\n") <= 5  # the code line and at most four echo lines
    assert "end" not in huge_echo
    assert token in rendered.html and huge.strip() in rendered.html


def test_replying_to_the_confirmation_answers_only_what_the_sender_changed() -> None:
    """The real reply reader finds no answers in the confirmation's own lines."""
    view = confirmation_view(
        outstanding=ITEMS[2:],
        notes=("BV8a.1: your mail program split the line; not taken",),
        commentary_needed=("BV8a",),
    )
    sent = render("confirmation", view).text
    quoted = "\n".join(("> " + line).rstrip() for line in sent.splitlines())
    attribution = (
        "On Fri, 1 May 2026 at 09:00, Performance Team <performance@ashdown.example> wrote:"
    )

    untouched = read_reply("Thanks.\n\n" + attribution + "\n" + quoted, sent, ALL_CODES)
    assert untouched.answers == []
    assert untouched.ignored == [] and untouched.conflicts == []
    assert untouched.general_comment == ""  # a sign-off is no commentary (issue 13)

    in_place = quoted.replace(
        "> [P07.M0] Leisure centre refurbishment - overall progress:",
        "> [P07.M0] Leisure centre refurbishment - overall progress: delayed",
    )
    reply = "BV9.1: 12500\n\n" + attribution + "\n" + in_place
    reading = read_reply(reply, sent, ALL_CODES)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV9.1", "value", "12500"),
        ("P07.M0", "value", "delayed"),
    ]
    assert reading.ignored == [] and reading.conflicts == []


def test_confirmation_lines_never_look_like_form_lines_to_the_reader() -> None:
    view = hostile_views()["confirmation"]
    assert isinstance(view, ConfirmationView)
    text = render("confirmation", view).text
    found = {fl.code for fl in find_form_lines(text)}
    assert found <= {*ordered_codes(view.outstanding), *comment_codes(view.outstanding)}


# ------------------------------------------------------------------------ rejection notice


@pytest.mark.parametrize(
    ("reason", "changes", "phrase"),
    [
        ("unknown_sender", {}, "We don't recognise this address as one of our updaters"),
        (
            "wrong_person",
            {},
            "This form was sent to someone else, Jane Doe, and only they or their "
            "registered delegate can answer it.",
        ),
        (
            "expired",
            {"expired_on": "Friday 29 May 2026"},
            "This form closed on Friday 29 May 2026, so answers to it are no longer recorded. "
            "The performance team can still take late corrections",
        ),
        (
            "no_request",
            {},
            "We could not match your email to a request. Please reply to the request email "
            'itself, keeping "[MC-...]" in the subject',
        ),
        (
            "quarantined",
            {},
            "Your email could not be verified as coming from your address (DMARC), so it is "
            "held for the performance team to check.",
        ),
        ("too_large", {}, "Your email was too large for us to read."),
    ],
)
def test_rejection_notice_says_why_and_whom_to_contact(
    reason: str, changes: dict[str, object], phrase: str
) -> None:
    rendered = render("rejection_notice", rejection_view(reason=reason, **changes))
    text = flat(rendered.text)
    assert phrase in text
    assert html_lib.escape(phrase, quote=False) in flat(rendered.html).replace("&#34;", '"')
    assert "We have not recorded anything from it for April 2026" in text
    assert "The performance team: performance@ashdown.example" in text
    assert "Hello," in rendered.text.splitlines()  # the sender's name is unknown
    assert long_lines(rendered.text) == []
    assert rendered.subject.startswith("Not recorded: RE: Performance return for April 2026")


def test_rejection_notice_greets_a_known_sender_by_name() -> None:
    rendered = render("rejection_notice", rejection_view(recipient=SAM, reason="expired"))
    assert "Dear Sam Lee," in rendered.text.splitlines()
    assert "Dear Sam Lee," in rendered.html
    assert "This form closed, so" in flat(rendered.text)  # no date known


def test_rejection_notice_never_reveals_the_rightful_address() -> None:
    rendered = render("rejection_notice", rejection_view())
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "jane.doe" not in part
        assert JANE.email not in part
    assert "Jane Doe" in rendered.text and "Jane Doe" in rendered.html


def test_rejection_subject_is_shortened_to_one_line() -> None:
    long_subject = "Re: " + "figures for April\r\n and more " * 10
    subject = render("rejection_notice", rejection_view(their_subject=long_subject)).subject
    assert subject.startswith("Not recorded: Re: figures for April and more figures")
    assert subject.endswith("...") and len(subject) == MAX_LINE
    short = render("rejection_notice", rejection_view(their_subject="April figures")).subject
    assert short == "Not recorded: April figures"
    empty = render("rejection_notice", rejection_view(their_subject="  ")).subject
    assert empty == "Not recorded: your email"


def test_rejection_view_refuses_an_unknown_reason() -> None:
    with pytest.raises(ValueError, match="unknown rejection reason 'spam'"):
        rejection_view(reason="spam")


# ------------------------------------------------------------------------ bounce, delegation


def test_bounce_notice_says_what_bounced_and_what_to_do() -> None:
    rendered = render("bounce_notice", bounce_view())
    lines = rendered.text.splitlines()
    assert rendered.subject == (
        "Bounced: email to sam.lee@ashdown.example (Sam Lee) cannot be delivered"
    )
    assert "  Address:     sam.lee@ashdown.example" in lines
    assert "  Person:      Sam Lee" in lines
    assert "  Requests:    April 2026, 2026/27 Q1" in lines
    assert "User unknown in virtual mailbox table" in flat(rendered.text)
    assert "Sam Lee has not received the requests for April 2026 and 2026/27 Q1" in flat(
        rendered.text
    )
    assert "correct the register" in flat(rendered.text)
    assert ">The email that bounced</caption>" in rendered.html
    assert '<th scope="row"' in rendered.html


def test_bounce_notice_for_an_address_not_in_the_register() -> None:
    view = bounce_view(person_name=None, original_subject=None, requests_affected=())
    rendered = render("bounce_notice", view)
    assert rendered.subject == "Bounced: email to sam.lee@ashdown.example cannot be delivered"
    assert "  Person:      not a person in the register" in rendered.text.splitlines()
    assert "Email:" not in rendered.text and "Requests:" not in rendered.text
    assert "sam.lee@ashdown.example has not received this email" in flat(rendered.text)


def test_delegate_forward_is_the_request_form_for_the_absent_person() -> None:
    rendered = render("delegate_forward", forward_view())
    text = flat(rendered.text)
    assert rendered.subject == (
        f"As delegate for Jane Doe: performance return for April 2026 due {DUE} [MC-K7Q2ZP]"
    )
    assert "Dear Ann Patel," in rendered.text.splitlines()
    assert (
        "Jane Doe is away until Monday 18 May 2026; as their registered delegate, please "
        f"send their figures for April 2026 by {DUE}." in text
    )
    assert "recorded as Jane Doe's return, sent by you" in text
    assert "How to answer:" in rendered.text  # the shared instructions
    assert "\n".join(form_lines(ITEMS)) in rendered.text
    assert parse_back(rendered.text) == ordered_codes(ITEMS)
    assert "Jane Doe is away until Monday 18 May 2026" in rendered.html
    assert "Answer by replying to this email" in rendered.html
    assert rendered.html.count("<table") == 3


def test_delegate_forward_without_a_return_date_and_without_the_absent_person() -> None:
    text = flat(render("delegate_forward", forward_view(away_until=None)).text)
    assert "Jane Doe is away; as their registered delegate" in text
    with pytest.raises(ValueError, match="on_behalf_of"):
        forward_view(on_behalf_of=None)


def test_delegate_notice_tells_the_team_who_has_the_request() -> None:
    rendered = render("delegate_notice", notice_view())
    assert rendered.subject == (
        "Request for April 2026 passed to Ann Patel: Jane Doe is away until Monday 18 May 2026"
    )
    text = flat(rendered.text)
    assert "Jane Doe <jane.doe@ashdown.example> is away until Monday 18 May 2026" in text
    assert "their registered delegate, Ann Patel <ann.patel@ashdown.example>" in text
    assert "Nothing needs doing unless this is wrong." in text
    no_date = render("delegate_notice", notice_view(away_until=None))
    assert no_date.subject == "Request for April 2026 passed to Ann Patel: Jane Doe is away"


# ------------------------------------------------------------------------ escaping


def hostile_views() -> dict[str, object]:
    evil = Person(f"Evil {SCRIPT} {IMG}", "evil@ashdown.example")
    evil_item = dataclasses.replace(ITEMS[2], title=f"{IMG}{SCRIPT}", group=SCRIPT)
    return {
        "confirmation": confirmation_view(
            recipient=evil,
            on_behalf_of=evil,
            accepted=(
                ConfirmedLine("BV8a.1", f"{SCRIPT} {IMG}", f"{IMG} {SCRIPT}", SCRIPT),
                *ACCEPTED[1:],
            ),
            rejected=(RejectedLine("BV9.1", f"{SCRIPT} {IMG}", f"because {SCRIPT} {IMG}"),),
            outstanding=(evil_item, ITEMS[3]),
            notes=(f"{SCRIPT} {IMG}",),
            commentary_needed=("BV8a",),
        ),
        "rejection_notice": rejection_view(
            recipient=evil,
            their_subject=f"Re: {SCRIPT} {IMG}",
            rightful=Person(f"Rightful {SCRIPT} {IMG}", "rightful@ashdown.example"),
        ),
        "bounce_notice": bounce_view(
            person_name=f"{SCRIPT} {IMG}",
            diagnostic=f"550 {SCRIPT} {IMG}",
            original_subject=f"{IMG} {SCRIPT}",
            requests_affected=(SCRIPT,),
        ),
        "delegate_forward": forward_view(
            recipient=evil, on_behalf_of=evil, items=(evil_item,), away_until=SCRIPT
        ),
        "delegate_notice": notice_view(absent=evil, delegate=evil, away_until=IMG),
    }


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_html_escapes_hostile_strings_and_text_shows_them_raw(kind: str) -> None:
    rendered = render(kind, hostile_views()[kind])
    assert "<script" not in rendered.html
    assert "<img" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert SCRIPT in rendered.text and IMG in rendered.text
    assert "&lt;" not in rendered.text and "&#34;" not in rendered.text
    assert long_lines(rendered.text) == []


def test_hostile_strings_reach_the_right_places_raw() -> None:
    views = hostile_views()
    confirmation = render("confirmation", views["confirmation"]).text
    assert f"    You wrote: {SCRIPT} {IMG}" in confirmation.splitlines()
    assert f"because {SCRIPT} {IMG}" in flat(confirmation)
    assert f"[BV9.1] {IMG}{SCRIPT} (£):" in confirmation
    assert parse_back(confirmation) == ["BV9.1", "P07.M0"]
    rejection = render("rejection_notice", views["rejection_notice"])
    assert rejection.subject == f"Not recorded: Re: {SCRIPT} {IMG}"
    assert "rightful@" not in rejection.text and "rightful@" not in rejection.html
    bounce = render("bounce_notice", views["bounce_notice"])
    assert f"({SCRIPT} {IMG})" in bounce.subject


# ------------------------------------------------------------------------ the wire


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_build_message_for_each_new_kind(kind: str) -> None:
    rendered = render(kind, SAMPLES[kind]())
    envelope = Envelope(
        from_header="Ashdown Performance Team <performance@ashdown.example>",
        to="sam.lee@ashdown.example",
        to_name="Sam Lee",
        reply_to=f"returns+{TOKEN}@returns.ashdown.example" if kind in ANSWERABLE else None,
        message_id="<0123456789abcdef0123456789abcdef@ashdown.example>",
    )
    data = build_message(envelope, rendered, datetime(2026, 5, 18, 9, 0, tzinfo=UTC))
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    # A subject over 69 characters is folded onto its own line ("Subject:" CRLF SP ...), and
    # the stdlib reads the folding space back as part of the value.
    assert parsed["Subject"].lstrip() == rendered.subject
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == rendered.text
    assert html.get_content().replace("\r\n", "\n") == rendered.html
    assert plain["Content-Transfer-Encoding"] in ("7bit", "quoted-printable")


# ------------------------------------------------------------------------ properties

codes = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}(\.[A-Za-z0-9]{1,6}){0,2}", fullmatch=True)
# Words up to 30 characters: prose and labelled fields fold at spaces and keep a longer word
# whole (an address), which is the one documented way past 78 characters.
short_words = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=30),
    min_size=1,
    max_size=25,
).map(" ".join)
# Answers are anything at all: the echo breaks even long words.
answers = st.one_of(st.text(max_size=40), st.text(min_size=60, max_size=400), short_words)


@st.composite
def confirmations(draw: st.DrawFn) -> ConfirmationView:
    outstanding_codes = draw(st.lists(codes, max_size=6, unique_by=str.casefold))
    outstanding = tuple(
        item(
            code,
            draw(short_words),
            draw(st.sampled_from(["Finance", "Leisure", "Housing"])),
            kind=draw(st.sampled_from(["value", "status"])),
            indicator_code=draw(codes),
        )
        for code in outstanding_codes
    )
    accepted = tuple(
        ConfirmedLine(
            draw(codes), draw(short_words), draw(short_words), draw(st.none() | short_words)
        )
        for _ in range(draw(st.integers(0, 4)))
    )
    rejected = tuple(
        RejectedLine(draw(codes), draw(answers), draw(short_words))
        for _ in range(draw(st.integers(0, 4)))
    )
    return confirmation_view(
        accepted=accepted,
        rejected=rejected,
        outstanding=outstanding,
        notes=tuple(draw(st.lists(short_words, max_size=3))),
        commentary_needed=tuple(draw(st.lists(codes, max_size=3))),
        late=draw(st.booleans()),
        comments=draw(st.integers(0, 3)),
    )


@settings(max_examples=100, deadline=None)
@given(confirmations())
def test_any_confirmation_parses_back_to_its_outstanding_codes(view: ConfirmationView) -> None:
    rendered = render("confirmation", view)
    assert isinstance(rendered, Rendered)
    assert parse_back(rendered.text) == ordered_codes(view.outstanding)
    assert long_lines(rendered.text) == []
    assert "\n" not in rendered.subject
