"""find_form_lines and read_reply, on realistic replies to our request form and confirmations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.parsing.form import Answer, FormLine, find_form_lines, read_reply

KNOWN = ["BV8a.1", "BV8a.2", "P07.M0"]

REQUEST = """\
Dear Sam,

Please send the May 2026 figures for the items below. Type each answer after the colon
and reply to this email. Leave an item blank if you cannot answer yet.

[BV8a.1] Undisputed invoices paid within 30 days (number):
    Last period: 1,480 | Same period last year: 1,402 | Allowed: 0 to 20,000
[BV8a.2] Undisputed invoices received (number):
    Last period: 1,530 | Same period last year: 1,466 | Allowed: 0 to 20,000
[P07.M0] Leisure centre refurbishment - overall progress (on track / at risk / delayed / complete):
[P07.M0 comment]:

Thank you,
Performance Team, Ashdown District Council"""

CONFIRMATION = """\
Thank you, Sam. We recorded these answers for May 2026:

[BV8a.1] Undisputed invoices paid within 30 days (number): 1,234
[BV8a.2] Undisputed invoices received (number): 1,300
[P07.M0] Leisure centre refurbishment - overall progress (on track / at risk / delayed / complete): at risk
[P07.M0 comment]: Contractor delays

If anything is wrong, reply with the corrected answer after the colon.

Performance Team"""  # noqa: E501

BV1 = "[BV8a.1] Undisputed invoices paid within 30 days (number):"
BV2 = "[BV8a.2] Undisputed invoices received (number):"
P07 = "[P07.M0] Leisure centre refurbishment - overall progress (on track / at risk / delayed / complete):"  # noqa: E501
P07C = "[P07.M0 comment]:"

OUTLOOK_HEADER = """\
________________________________
From: Performance Team <performance@ashdown.example>
Sent: 04 June 2026 09:00
To: Sam Lee <sam.lee@ashdown.example>
Subject: May 2026 figures: please reply
"""

GMAIL_ATTRIBUTION = (
    "On Thu, 4 Jun 2026 at 09:00, Performance Team <performance@ashdown.example> wrote:"
)


def gt(text: str, depth: int = 1) -> str:
    """Quote text the way Gmail does."""
    prefix = "> " * depth
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


def fill(form: str, **answers: str) -> str:
    """Type answers after the colon of form lines, in place: fill(REQUEST, BV1="1234")."""
    lines = {"BV1": BV1, "BV2": BV2, "P07": P07, "P07C": P07C}
    for key, answer in answers.items():
        form = form.replace(lines[key], f"{lines[key]} {answer}", 1)
    return form


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing needle."""
    for i, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


# --------------------------------------------------------------------------------------------
# find_form_lines
# --------------------------------------------------------------------------------------------

FORM_LINES: list[tuple[str, tuple[str, str, str, bool, str] | None]] = [
    # (line, (code, label, answer, quoted, kind) or None when not a form line)
    (f"{BV1} 1234", ("BV8a.1", BV1[9:-1], "1234", False, "value")),
    (f"{BV1}", ("BV8a.1", BV1[9:-1], "", False, "value")),
    (f"> {BV1} 1234", ("BV8a.1", BV1[9:-1], "1234", True, "value")),
    (f">> {BV1}", ("BV8a.1", BV1[9:-1], "", True, "value")),
    (f"> > {P07C} roof is late", ("P07.M0", "", "roof is late", True, "comment")),
    ("[BV8a.1] Undisputed invoices received (number) : 1234",
     ("BV8a.1", "Undisputed invoices received (number)", "1234", False, "value")),
    ("[BV8a.1] Undisputed invoices received (number)：1234",
     ("BV8a.1", "Undisputed invoices received (number)", "1234", False, "value")),
    ("[BV8a.1] Meetings before 10:00 (number): 5",
     ("BV8a.1", "Meetings before 10:00 (number)", "5", False, "value")),
    ("[BV8a.1] 1234", ("BV8a.1", "", "1234", False, "value")),
    ("[BV8a.1]: 1234", ("BV8a.1", "", "1234", False, "value")),
    ("[ BV8a.1 ] 1234", ("BV8a.1", "", "1234", False, "value")),
    ("[P07.M0 comment] delayed by the weather", ("P07.M0", "", "delayed by the weather", False,
                                                 "comment")),
    ("[P07.M0 Comment]: x", ("P07.M0", "", "x", False, "comment")),
    ("BV8a.1: 1234", ("BV8a.1", "", "1234", False, "value")),
    ("BV8a.1 : 1234", ("BV8a.1", "", "1234", False, "value")),
    ("BV8a.1：1234", ("BV8a.1", "", "1234", False, "value")),
    ("BV8a.1 = 1234", ("BV8a.1", "", "1234", False, "value")),
    ("bv8a.1: 1234", ("bv8a.1", "", "1234", False, "value")),
    ("  BV8a.1: 1,234 ", ("BV8a.1", "", "1,234", False, "value")),
    ("- BV8a.1: 1234", ("BV8a.1", "", "1234", False, "value")),
    ("P07.M0: on track", ("P07.M0", "", "on track", False, "value")),
    ("P07.M0 comment: contractor on site", ("P07.M0", "", "contractor on site", False,
                                            "comment")),
    ("> BV8a.1: 1234", ("BV8a.1", "", "1234", True, "value")),
    ("NI192: 45", ("NI192", "", "45", False, "value")),
    ("1.2: 45", ("1.2", "", "45", False, "value")),
    ("BV8a.1:", ("BV8a.1", "", "", False, "value")),
    # Not form lines.
    ("    Last period: 1,480 | Same period last year: 1,402 | Allowed: 0 to 20,000", None),
    ("Sent: 04 June 2026 09:00", None),
    ("Subject: May 2026 figures", None),
    ("10:30 meeting moved", None),
    ("12: twelve", None),
    ("[1] https://example.com/link", None),
    ("[EXTERNAL] Re: figures", None),
    ("Re: figures", None),
    ("15.05.2026: finished", None),
    ("https://example.com", None),
    ("Note: 12 were late", None),
    ("", None),
    ("> ", None),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), FORM_LINES)
def test_find_form_lines_one_line(
    line: str, expected: tuple[str, str, str, bool, str] | None
) -> None:
    found = find_form_lines(line)
    if expected is None:
        assert found == []
    else:
        code, label, answer, quoted, kind = expected
        assert found == [FormLine(code, label, answer, 1, quoted, kind)]  # type: ignore[arg-type]


def test_find_form_lines_numbers_lines_in_normalised_text() -> None:
    text = "Hello\r\n\r\nBV8a.1: 1234\r\n> [BV8a.2] Received (number): 1300\r\n"
    assert [(fl.code, fl.line_no, fl.quoted) for fl in find_form_lines(text)] == [
        ("BV8a.1", 3, False),
        ("BV8a.2", 4, True),
    ]


def test_find_form_lines_does_not_join_a_wrapped_answer() -> None:
    found = find_form_lines(f"{BV1}\n1234")
    assert [(fl.code, fl.answer) for fl in found] == [("BV8a.1", "")]


# --------------------------------------------------------------------------------------------
# read_reply: the main reply styles
# --------------------------------------------------------------------------------------------


def test_outlook_in_place_in_the_unprefixed_quoted_copy() -> None:
    reply = (
        "Hi, figures below. The roof work is the only worry.\n\nSam\n\n"
        + OUTLOOK_HEADER
        + "\n"
        + fill(REQUEST, BV1="1,234", BV2="1300", P07="at risk").replace(
            P07C, P07C + "\nScaffolding firm went into administration."
        )
    )
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("BV8a.1", "value", "1,234", "form-in-place", line_of(reply, "[BV8a.1]")),
        Answer("BV8a.2", "value", "1300", "form-in-place", line_of(reply, "[BV8a.2]")),
        Answer("P07.M0", "value", "at risk", "form-in-place", line_of(reply, "[P07.M0]")),
        Answer(
            "P07.M0",
            "comment",
            "Scaffolding firm went into administration.",
            "form-in-place",
            line_of(reply, "[P07.M0 comment]"),
        ),
    ]
    assert reading.general_comment == "Hi, figures below. The roof work is the only worry.\n\nSam"
    assert reading.conflicts == []
    assert reading.ignored == []


def test_outlook_in_place_with_crlf_and_free_text_under_an_item() -> None:
    form = fill(REQUEST, P07="delayed").replace(
        f"{P07} delayed", f"{P07} delayed\nThe roofing contractor is three weeks behind."
    )
    reply = ("See below\n\n" + OUTLOOK_HEADER + "\n" + form).replace("\n", "\r\n")
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("P07.M0", "value", "delayed", "form-in-place", line_of(reply, "[P07.M0]")),
        Answer(
            "P07.M0",
            "comment",
            "The roofing contractor is three weeks behind.",
            "form-in-place",
            line_of(reply, "three weeks"),
        ),
    ]
    assert reading.general_comment == "See below"


def test_gmail_top_posted_lines_over_an_untouched_quoted_form() -> None:
    reply = (
        "BV8a.1: 1234\nBV8a.2: 1,300\nP07.M0: on track\n\nAll in line with the forecast.\n\n"
        "Sam\n\nSent from my iPhone\n\n" + GMAIL_ATTRIBUTION + "\n\n" + gt(REQUEST) + "\n"
    )
    expected = [
        Answer("BV8a.1", "value", "1234", "top", 1),
        Answer("BV8a.2", "value", "1,300", "top", 2),
        Answer("P07.M0", "value", "on track", "top", 3),
    ]
    for sent in (REQUEST, None):
        reading = read_reply(reply, sent, KNOWN)
        assert reading.answers == expected
        assert reading.general_comment == "All in line with the forecast.\n\nSam"
        assert reading.conflicts == []
        assert reading.ignored == []


def test_untouched_quoted_form_alone_gives_nothing() -> None:
    for reply in (
        "Will send tomorrow.\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(REQUEST),
        "Will send tomorrow.\n\n" + OUTLOOK_HEADER + "\n" + REQUEST,
    ):
        reading = read_reply(reply, REQUEST, KNOWN)
        assert reading.answers == []
        assert reading.general_comment == "Will send tomorrow."
        assert reading.ignored == []
        assert reading.conflicts == []


def test_in_place_answers_inside_a_gt_quoted_form() -> None:
    quoted = gt(fill(REQUEST, BV1="1234", P07="delayed")).replace("> " + BV2, "> " + BV2 + "\n1300")
    quoted = quoted.replace(f"> {P07} delayed", f"> {P07} delayed\nRoofing is three weeks behind.")
    reply = "Figures in the form below.\n\n" + GMAIL_ATTRIBUTION + "\n" + quoted
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("BV8a.1", "value", "1234", "quoted-form", line_of(reply, "[BV8a.1]")),
        Answer("BV8a.2", "value", "1300", "quoted-form", line_of(reply, "[BV8a.2]")),
        Answer("P07.M0", "value", "delayed", "quoted-form", line_of(reply, "[P07.M0]")),
        Answer(
            "P07.M0",
            "comment",
            "Roofing is three weeks behind.",
            "quoted-form",
            line_of(reply, "Roofing"),
        ),
    ]
    # The figure typed on the line under an empty item is its value (answering inline, issue
    # 13); the sentence under an answered item is its comment.
    assert reading.ignored == []
    assert reading.general_comment == "Figures in the form below."


def test_in_place_in_quoted_form_is_not_read_without_the_sent_form() -> None:
    reply = "See below.\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(fill(REQUEST, BV1="1234"))
    reading = read_reply(reply, None, KNOWN)
    assert reading.answers == []
    assert any(note.startswith("BV8a.1 in the quoted text was not read") for note in
               reading.ignored)  # fmt: skip


def test_outlook_in_place_is_not_read_without_the_sent_form() -> None:
    reply = "See below.\n\n" + OUTLOOK_HEADER + "\n" + fill(REQUEST, BV1="1234")
    reading = read_reply(reply, None, KNOWN)
    assert reading.answers == []
    assert reading.general_comment == "See below."
    assert len(reading.ignored) == 1 and "BV8a.1" in reading.ignored[0]


def test_nested_older_quotes_are_not_read() -> None:
    reply = (
        "Sorry, BV8a.2 is 1,310.\n\nBV8a.2: 1,310\n\n" + GMAIL_ATTRIBUTION + "\n"
        + gt(CONFIRMATION) + "\n>\n> On 2 Jun 2026, at 10:00, Sam Lee <sam.lee@ashdown.example>"
        " wrote:\n" + gt(fill(REQUEST, BV1="999"), depth=2)
    )  # fmt: skip
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == [Answer("BV8a.2", "value", "1,310", "top", 3)]
    assert any("older message" in note and "BV8a.1" in note for note in reading.ignored)


def test_outlook_thread_history_is_not_read() -> None:
    """An earlier answer of the sender's, further down an Outlook thread, is not a new one."""
    older = fill(REQUEST, BV1="999", BV2="1100")
    reply = (
        "BV8a.1 should be 1,240, sorry.\n\n" + OUTLOOK_HEADER + "\n"
        + fill(CONFIRMATION.replace(": 1,234", ":"), BV1="1,240") + "\n\n"
        + "From: Sam Lee <sam.lee@ashdown.example>\nSent: 02 June 2026 10:00\n"
        "To: Performance Team <performance@ashdown.example>\nSubject: RE: May figures\n\n"
        + older
    )  # fmt: skip
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == [
        # The top line names BV8a.1 but reads as no answer, and the form answers it: it is
        # the item's comment, never the general comment (issue 13).
        Answer("BV8a.1", "comment", "BV8a.1 should be 1,240, sorry.", "top", 1),
        Answer("BV8a.1", "value", "1,240", "form-in-place", line_of(reply, "[BV8a.1]")),
    ]
    assert reading.general_comment == ""
    assert reading.conflicts == []
    assert any("BV8a.2" in note and "older message" in note for note in reading.ignored)


# --------------------------------------------------------------------------------------------
# Replies to a confirmation
# --------------------------------------------------------------------------------------------


def test_reply_to_confirmation_changing_one_value() -> None:
    changed = gt(CONFIRMATION).replace("(number): 1,234", "(number): 1,240")
    reply = "Corrected below.\n\n" + GMAIL_ATTRIBUTION + "\n" + changed
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == [
        Answer("BV8a.1", "value", "1,240", "quoted-form", line_of(reply, "[BV8a.1]"))
    ]
    assert reading.conflicts == []
    assert "BV8a.2 in the quoted text is unchanged from what we sent; not taken" in reading.ignored
    assert reading.general_comment == "Corrected below."


def test_reply_to_confirmation_outlook_changing_status() -> None:
    changed = CONFIRMATION.replace("complete): at risk", "complete): delayed")
    reply = "Update\n\n" + OUTLOOK_HEADER + "\n" + changed
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == [
        Answer("P07.M0", "value", "delayed", "form-in-place", line_of(reply, "[P07.M0]"))
    ]


@pytest.mark.parametrize("style", ["gmail", "outlook"])
def test_reply_to_confirmation_untouched_gives_nothing(style: str) -> None:
    quoted = (
        GMAIL_ATTRIBUTION + "\n" + gt(CONFIRMATION)
        if style == "gmail"
        else OUTLOOK_HEADER + "\n" + CONFIRMATION
    )
    reply = "Thanks, all correct.\n\n" + quoted
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == []
    assert reading.conflicts == []
    assert reading.general_comment == "Thanks, all correct."
    assert reading.ignored == [
        "BV8a.1 in the quoted text is unchanged from what we sent; not taken",
        "BV8a.2 in the quoted text is unchanged from what we sent; not taken",
        "P07.M0 in the quoted text is unchanged from what we sent; not taken",
        "P07.M0 comment in the quoted text is unchanged from what we sent; not taken",
    ]


def test_confirmation_figure_deleted_is_not_a_change() -> None:
    reply = "x\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(CONFIRMATION.replace(": 1,300", ":"))
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == []
    assert any("BV8a.2: the answer we showed was deleted" in note for note in reading.ignored)


def test_reply_to_confirmation_top_line_repeating_the_recorded_value() -> None:
    reply = "BV8a.1: 1,234\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(CONFIRMATION)
    reading = read_reply(reply, CONFIRMATION, KNOWN)
    assert reading.answers == []
    assert (
        "BV8a.1 at the top of your reply is unchanged from what we sent; not taken"
        in reading.ignored
    )


# --------------------------------------------------------------------------------------------
# Conflicts and duplicates
# --------------------------------------------------------------------------------------------


def test_conflicting_top_line_and_in_place_answer() -> None:
    reply = (
        "BV8a.1: 1234\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(fill(REQUEST, BV1="1240", BV2="1300"))
    )
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("BV8a.2", "value", "1300", "quoted-form", line_of(reply, "[BV8a.2]"))
    ]
    assert len(reading.conflicts) == 1
    conflict = reading.conflicts[0]
    assert conflict.startswith("BV8a.1 was answered more than once")
    assert "'1234' (line 1)" in conflict and "'1240'" in conflict


def test_conflicting_top_lines() -> None:
    reading = read_reply("BV8a.1: 1234\nBV8a.1: 1243\n", REQUEST, KNOWN)
    assert reading.answers == []
    assert len(reading.conflicts) == 1


def test_same_answer_twice_is_taken_once() -> None:
    reply = "BV8a.1: 1234\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(fill(REQUEST, BV1="1,234"))
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [Answer("BV8a.1", "value", "1234", "top", 1)]
    assert reading.conflicts == []
    assert "BV8a.1 was given 2 times with the same answer; taken once" in reading.ignored


# --------------------------------------------------------------------------------------------
# Commentary and the general comment
# --------------------------------------------------------------------------------------------


def test_comment_lines_at_the_top_and_in_the_form_are_combined() -> None:
    reply = (
        "P07.M0: delayed\nP07.M0 comment: Scaffolding firm went bust.\n\n"
        + GMAIL_ATTRIBUTION
        + "\n"
        + gt(REQUEST).replace("> " + P07C, "> " + P07C + " New firm starts on 15 June.")
    )
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("P07.M0", "value", "delayed", "top", 1),
        Answer(
            "P07.M0",
            "comment",
            "Scaffolding firm went bust.\n\nNew firm starts on 15 June.",
            "top",
            2,
        ),
    ]


def test_multi_line_comment_under_a_comment_line() -> None:
    reply = (
        "See form.\n\n"
        + OUTLOOK_HEADER
        + "\n"
        + REQUEST.replace(
            P07C, P07C + " Roof delayed.\nNew contractor appointed.\nOn site 15 June."
        )
    )
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer(
            "P07.M0",
            "comment",
            "Roof delayed.\nNew contractor appointed.\nOn site 15 June.",
            "form-in-place",
            line_of(reply, P07C),
        )
    ]


def test_text_under_a_bare_top_line_is_the_general_comment() -> None:
    reply = "BV8a.1: 1234\nBV8a.2: 1300\nThanks, Sam\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(REQUEST)
    reading = read_reply(reply, REQUEST, KNOWN)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "value", "1234"),
        ("BV8a.2", "value", "1300"),
    ]
    # A sign-off is no commentary (issue 13).
    assert reading.general_comment == ""


def test_general_comment_strips_our_own_text_and_signatures() -> None:
    """A reply that pasted our whole form unprefixed, filled in, with no header at all."""
    reply = "Sorry for the delay.\n\n" + fill(REQUEST, BV1="1234") + "\n\n-- \nSam Lee\nFinance\n"
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.answers == [
        Answer("BV8a.1", "value", "1234", "form-in-place", line_of(reply, "[BV8a.1]"))
    ]
    assert reading.general_comment == "Sorry for the delay."


def test_general_comment_anywhere_in_the_new_text() -> None:
    reply = "Hello,\n\nBV8a.1: 1234\n\nThe rest follows next week.\n"
    reading = read_reply(reply, REQUEST, KNOWN)
    assert reading.general_comment == "The rest follows next week."  # "Hello," is a greeting


# --------------------------------------------------------------------------------------------
# Codes and unusual lines
# --------------------------------------------------------------------------------------------


def test_unknown_codes_are_ignored_with_a_note() -> None:
    reading = read_reply("XY1.1: 12\nBV8a.1: 1234\n", REQUEST, KNOWN)
    assert reading.answers == [Answer("BV8a.1", "value", "1234", "top", 2)]
    assert reading.ignored == ["XY1.1 is not on your form; not taken"]


def test_codes_match_ignoring_case() -> None:
    reading = read_reply("bv8a.1: 1234\np07.m0 = complete\n", None, KNOWN)
    assert reading.answers == [
        Answer("BV8a.1", "value", "1234", "top", 1),
        Answer("P07.M0", "value", "complete", "top", 2),
    ]


def test_known_codes_differing_only_in_case_are_not_guessed() -> None:
    reading = read_reply("ab1.1: 5\n", None, ["AB1.1", "ab1.1"])
    assert reading.answers == []
    assert reading.ignored and "more than one code" in reading.ignored[0]


def test_top_line_styles() -> None:
    reply = "[BV8a.1] 1234\n[BV8a.2]: 1300\nP07.M0 = at risk\n"
    reading = read_reply(reply, REQUEST, KNOWN)
    assert [(a.code, a.text, a.source) for a in reading.answers] == [
        ("BV8a.1", "1234", "top"),
        ("BV8a.2", "1300", "top"),
        ("P07.M0", "at risk", "top"),
    ]


def test_spaces_before_colon_and_full_width_colon_in_place() -> None:
    form = REQUEST.replace(BV1, BV1[:-1] + " : 1234").replace(BV2, BV2[:-1] + "：1300")
    reply = "x\n\n" + OUTLOOK_HEADER + "\n" + form
    reading = read_reply(reply, REQUEST, KNOWN)
    assert [(a.code, a.text) for a in reading.answers] == [("BV8a.1", "1234"), ("BV8a.2", "1300")]


def test_deleted_colon_after_our_label() -> None:
    reply = "x\n\n" + OUTLOOK_HEADER + "\n" + REQUEST.replace(BV1, BV1[:-1] + " 1234")
    reading = read_reply(reply, REQUEST, KNOWN)
    assert [(a.code, a.text) for a in reading.answers] == [("BV8a.1", "1234")]


def test_wrapped_form_line_is_not_read() -> None:
    wrapped = "[BV8a.1] Undisputed invoices paid within\n30 days (number): 1234"
    reply = "x\n\n" + OUTLOOK_HEADER + "\n" + REQUEST.replace(BV1, wrapped)
    reading = read_reply(reply, REQUEST, KNOWN)
    # Nothing stored, and not silent: the item gets a rejected line saying why (issue 13).
    [unread] = reading.answers
    assert (unread.code, unread.kind) == ("BV8a.1", "unread")
    assert unread.text == "[BV8a.1] Undisputed invoices paid within"
    assert "split the line" in unread.reason


def test_label_we_did_not_send_with_a_figure_in_it_is_unclear() -> None:
    reply = "[BV8a.1] was 1,480: now 1,234\n"
    reading = read_reply(reply, REQUEST, KNOWN)
    [unread] = reading.answers
    assert (unread.code, unread.kind, unread.text) == ("BV8a.1", "unread", reply.strip())
    assert "which part" in unread.reason
    # Answered as well on a line of its own: the unclear line is only a note.
    both = read_reply(reply + "BV8a.1: 1,234\n", REQUEST, KNOWN)
    assert [(a.code, a.kind, a.text) for a in both.answers] == [("BV8a.1", "value", "1,234")]
    assert any("which part" in note for note in both.ignored)


def test_empty_reply() -> None:
    reading = read_reply("", REQUEST, KNOWN)
    assert reading.answers == [] and reading.general_comment == ""
    assert reading.ignored == [] and reading.conflicts == []


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_answer_text = st.from_regex(r"[0-9][0-9,. ]{0,12}[0-9a-z%]|n/a|on track|delayed", fullmatch=True)


@given(_answer_text, st.sampled_from(["gmail", "outlook", "top"]))
def test_a_typed_answer_is_read_back_exactly(answer: str, style: str) -> None:
    if style == "gmail":
        reply = "See below\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(fill(REQUEST, BV2=answer))
    elif style == "outlook":
        reply = "See below\n\n" + OUTLOOK_HEADER + "\n" + fill(REQUEST, BV2=answer)
    else:
        reply = f"BV8a.2: {answer}\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(REQUEST)
    reading = read_reply(reply, REQUEST, KNOWN)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.2", "value", answer.strip())
    ]


@given(st.sampled_from([REQUEST, CONFIRMATION]), st.integers(min_value=0, max_value=3),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))  # fmt: skip
def test_untouched_copies_are_never_answers(sent: str, depth: int, comment: str) -> None:
    comment = comment.replace("[", "(").replace(":", ";").replace("=", "-")
    quoted = (GMAIL_ATTRIBUTION + "\n" + gt(sent, depth)) if depth else OUTLOOK_HEADER + "\n" + sent
    reading = read_reply(f"{comment}\n\n{quoted}", sent, KNOWN)
    assert reading.answers == []
    assert reading.conflicts == []


# --------------------------------------------------------------------------------------------
# The form as compose/form.py lays it out (headings, indicator comment lines, footer)
# --------------------------------------------------------------------------------------------

REAL_REQUEST = """\
Ashdown District Council: performance team

Dear Sam,

How to answer:

- Reply to this email.
- Type each value after its colon in the form below. You may answer in place,
  in the quoted copy of this email, as Outlook does.
- Or write lines such as "BV8a.1: 1234" at the top of your reply.

-- Finance --

Indicator BV8a - Percentage of undisputed invoices paid within 30 days
[BV8a.1] Undisputed invoices paid within 30 days (number):
    Last period: 1,480 | Same period last year: 1,402 | Target: 97%
    Allowed: 0 to 20,000
[BV8a.2] All undisputed invoices (number):
[BV8a comment]:

-- Leisure --

[P07.M0] Leisure centre refurbishment - overall progress:
    Answer one of: on track / at risk / delayed / complete (with the date)
[P07.M0 comment]:

-- \nThis is an automatic email from the performance team's mailcapture service
at Ashdown District Council. Replies to it are read by a machine for the form."""

REAL_KNOWN = ["BV8a", "BV8a.1", "BV8a.2", "P07.M0"]


@pytest.mark.parametrize("style", ["gmail", "outlook", "pasted"])
def test_real_layout_in_place(style: str) -> None:
    filled = (
        REAL_REQUEST.replace("30 days (number):", "30 days (number): 1,234")
        .replace("invoices (number):", "invoices (number): 1,300")
        .replace("[BV8a comment]:", "[BV8a comment]: New invoicing system from April.")
        .replace("overall progress:", "overall progress: complete 15 May 2026")
    )
    if style == "gmail":
        reply = "Done, see below.\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(filled)
    elif style == "outlook":
        reply = "Done, see below.\n\n" + OUTLOOK_HEADER + "\n" + filled
    else:
        reply = "Done, see below.\n\n" + filled
    reading = read_reply(reply, REAL_REQUEST, REAL_KNOWN)
    assert [(a.code, a.kind, a.text) for a in reading.answers] == [
        ("BV8a.1", "value", "1,234"),
        ("BV8a.2", "value", "1,300"),
        ("BV8a", "comment", "New invoicing system from April."),
        ("P07.M0", "value", "complete 15 May 2026"),
    ]
    assert reading.general_comment == "Done, see below."
    assert reading.conflicts == [] and reading.ignored == []


@pytest.mark.parametrize("style", ["gmail", "outlook", "pasted"])
def test_real_layout_untouched(style: str) -> None:
    if style == "gmail":
        reply = "Next week.\n\n" + GMAIL_ATTRIBUTION + "\n" + gt(REAL_REQUEST)
    elif style == "outlook":
        reply = "Next week.\n\n" + OUTLOOK_HEADER + "\n" + REAL_REQUEST
    else:
        reply = "Next week.\n\n" + REAL_REQUEST
    reading = read_reply(reply, REAL_REQUEST, REAL_KNOWN)
    assert reading.answers == [] and reading.conflicts == [] and reading.ignored == []
    assert reading.general_comment == "Next week."
