"""The confirmation's question about a held figure (issue 13, part 3): plain words, lines
of at most 78 characters, and nothing in it that reads back as an answer when the
confirmation is replied to."""

from __future__ import annotations

import re

from mailcapture.compose.form import comment_codes, ordered_codes
from mailcapture.compose.render import render
from mailcapture.compose.views import HeldLine
from mailcapture.parsing.form import find_form_lines, read_reply
from tests.compose.samples import ITEMS
from tests.compose.test_compose_capture_kinds import ALL_CODES, confirmation_view

HELD = (
    HeldLine(
        "BV8a.1",
        "Undisputed invoices paid within 30 days",
        "40 (estimate)",
        "last month was 1,854 and April 2025 was 1,578",
    ),
    HeldLine("BV8a.2", "All undisputed invoices", "25,000", "the allowed range is 0 to 20,000"),
)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_each_held_figure_is_one_plain_question() -> None:
    rendered = render("confirmation", confirmation_view(held=HELD, outstanding=ITEMS[:2]))
    text = _flat(rendered.text)
    assert (
        "You wrote 40 (estimate) for BV8a.1; last month was 1,854 and April 2025 was 1,578. "
        'Reply "BV8a.1: confirm" to keep it, or send the right figure.'
    ) in text
    assert (
        "You wrote 25,000 for BV8a.2; the allowed range is 0 to 20,000. "
        'Reply "BV8a.2: confirm" to keep it, or send the right figure.'
    ) in text
    assert "2 figures look unusual and are held until you confirm them" in text
    assert "These figures are stored but not counted in any figure or report" in text
    assert "2 to confirm" in rendered.subject
    html = _flat(rendered.html)
    assert "You wrote <strong>25,000</strong> for BV8a.2; the allowed range is 0 to 20,000." in html
    assert all(len(line) <= 78 for line in rendered.text.splitlines())


def test_no_confirmation_without_held_figures_asks_anything() -> None:
    text = render("confirmation", confirmation_view()).text
    assert "confirm" not in text.replace("confirmation", "")
    assert "Please check" not in text


def test_the_question_never_reads_back_as_an_answer() -> None:
    view = confirmation_view(held=HELD, outstanding=ITEMS[:2])
    sent = render("confirmation", view).text
    # Only the outstanding form has form lines; no line starts with a held code.
    found = {fl.code for fl in find_form_lines(sent)}
    assert found <= {*ordered_codes(view.outstanding), *comment_codes(view.outstanding)}
    assert not re.search(r'^\s*"?BV8a\.\d: confirm', sent, re.MULTILINE)
    quoted = "\n".join(("> " + line).rstrip() for line in sent.splitlines())
    attribution = (
        "On Tue, 5 May 2026 at 09:00, Performance Team <performance@ashdown.example> wrote:"
    )
    untouched = read_reply("Thanks.\n\n" + attribution + "\n" + quoted, sent, ALL_CODES)
    assert untouched.answers == []
    # Outlook: the whole confirmation copied below the reply, unquoted.
    reply = read_reply("BV8a.1: confirm\n\n" + sent, sent, ALL_CODES)
    assert [(a.code, a.text) for a in reply.answers] == [("BV8a.1", "confirm")]
