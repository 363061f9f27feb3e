"""Reading answers to a report: approve, query, comment lines and a plain "approved".

Replies are built by :mod:`mailcapture.demo.clients` from a report message in the agreed
answer-line form and decoded by the real MIME layer, so the text read is what the pipeline
would read. Properties check the safety rule: an untouched copy of the report is never an
answer, however it is quoted.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.demo import clients
from mailcapture.parsing.mime import decode_message
from mailcapture.parsing.report_reply import listed_codes, read_report_reply

CODES = ["BV8a", "LFIN01", "NI181"]
MARK = "Mark Ellison <mark.ellison@ashdown.example>"


def report_text(codes: list[str] = CODES, dept: str | None = None) -> str:
    lines = ["Ashdown District Council: performance team", "", "Dear Mark Ellison,", ""]
    lines += [
        "- Or fill in the lines: after [CODE approve]: write yes; after [CODE",
        "  query]: write what looks wrong, and the figure goes back to the",
        '  updater with your reason; just write "approved" to approve all.',
        "",
    ]
    for code in codes:
        lines += [
            f"[{code}] Some indicator title: 97.5% (target 97%), green, improving - provisional",
            f"[{code} approve]:",
            f"[{code} query]:",
            f"[{code} comment]:",
            "",
            "  Updater (Kevin Walsh, 5 May 2026): figures from the ledger.",
            "",
        ]
    if dept:
        lines += [f"[{dept} comment]:", ""]
    lines += ["Reference: [MC-abcdefghijklmnop] (please keep it in the subject of your reply)"]
    return "\n".join(lines) + "\n"


def report_raw(text: str) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Ashdown Performance Team <performance@ashdown.example>"
    msg["To"] = "Mark Ellison <mark.ellison@ashdown.example>"
    msg["Reply-To"] = "returns+abcdefghijklmnop@returns.ashdown.example"
    msg["Subject"] = "Owner report for April 2026 [MC-abcdefghijklmnop]"
    msg["Message-ID"] = "<report-1@returns.ashdown.example>"
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(
        "<html><body><pre>"
        + text.replace("&", "&amp;").replace("<", "&lt;")
        + "</pre></body></html>",
        subtype="html",
        charset="utf-8",
    )
    return msg.as_bytes()


def read(raw: bytes, sent: str | None, codes: list[str] = CODES):  # type: ignore[no-untyped-def]
    return read_report_reply(decode_message(raw).text, sent, codes)


def answers(reading) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(a.code, a.verb, a.text) for a in reading.answers]


SENT = report_text()
RAW = report_raw(SENT)


def test_listed_codes_are_the_answer_lines_of_the_report() -> None:
    # Not "CODE" from the how-to-answer prose: it is not a line of its own.
    assert listed_codes(report_text(dept="RES")) == {*CODES, "RES"}


def test_outlook_in_place_approve_query_and_comment() -> None:
    raw = clients.outlook_in_place(
        RAW,
        MARK,
        {
            "BV8a approve": "x",
            "LFIN01 query": "Q1 debt figure looks a month old",
            "NI181 comment": "Backlog cleared in May.",
        },
        top="Done, see below.\nMark",
    )
    reading = read(raw, SENT)
    assert answers(reading) == [
        ("BV8a", "approve", "x"),
        ("LFIN01", "query", "Q1 debt figure looks a month old"),
        ("NI181", "comment", "Backlog cleared in May."),
    ]
    assert not reading.approve_all
    assert reading.notes == []


def test_gmail_top_posted_lines_with_continuations() -> None:
    top = (
        "[bv8a approve]\n"
        "[NI181 query]: the days figure is ten times last month's;\n"
        "please check NI181.1 before I sign.\n"
        "\n"
        "[LFIN01 comment]: On track.\n"
        "\n"
        "Thanks, Mark"
    )
    reading = read(clients.gmail_top_posted(RAW, MARK, top), SENT)
    assert answers(reading) == [
        ("BV8a", "approve", ""),
        (
            "NI181",
            "query",
            "the days figure is ten times last month's;\nplease check NI181.1 before I sign.",
        ),
        ("LFIN01", "comment", "On track."),
    ]
    assert not reading.approve_all


def test_iphone_plain_approved_approves_everything() -> None:
    reading = read(clients.iphone(RAW, MARK, "Approved, thanks"), SENT)
    assert reading.approve_all and reading.answers == []


def test_outlook_web_html_only_approve_all() -> None:
    raw = clients.outlook_web_html_only(RAW, MARK, ["Hi,", "All approved.", "Mark Ellison"])
    reading = read(raw, SENT)
    assert reading.approve_all, reading


def test_approved_with_more_to_say_is_not_approve_all() -> None:
    reading = read(clients.iphone(RAW, MARK, "Approved, but NI181 looks odd to me"), SENT)
    assert not reading.approve_all
    assert "not taken as approving everything" in reading.notes[0]
    reading = read(clients.gmail_top_posted(RAW, MARK, "Approved\n[NI181 query]: too high"), SENT)
    assert not reading.approve_all
    assert answers(reading) == [("NI181", "query", "too high")]


def test_query_without_reason_is_refused_with_a_note() -> None:
    reading = read(clients.gmail_top_posted(RAW, MARK, "[BV8a query]:\n\nMark"), SENT)
    assert reading.answers == []
    assert "the updater needs to know what is wrong" in reading.notes[0]


def test_approve_and_query_of_one_code_conflict() -> None:
    raw = clients.outlook_in_place(
        RAW, MARK, {"BV8a approve": "yes", "BV8a query": "check it"}, top="Mark"
    )
    reading = read(raw, SENT)
    assert reading.answers == []
    assert "both approved and queried" in reading.notes[0]


def test_unclear_or_negative_approve_words_are_not_approvals() -> None:
    raw = clients.outlook_in_place(RAW, MARK, {"BV8a approve": "no", "NI181 approve": "maybe"})
    reading = read(raw, SENT)
    assert reading.answers == []
    assert any("'no' is not an approval" in n for n in reading.notes)
    assert any("whether 'maybe' means yes" in n for n in reading.notes)


def test_unknown_codes_are_ignored_with_a_note() -> None:
    reading = read(clients.gmail_top_posted(RAW, MARK, "[ZZ99 approve]: yes"), SENT)
    assert reading.answers == []
    assert reading.notes == ["ZZ99 is not in this report; [ZZ99 approve] was not taken"]


def test_without_the_sent_text_only_new_lines_count() -> None:
    raw = clients.outlook_in_place(RAW, MARK, {"BV8a approve": "x"}, top="[NI181 approve]: yes")
    reading = read(raw, None)
    assert answers(reading) == [("NI181", "approve", "yes")]
    assert "only lines typed above the quoted text count" in reading.notes[0]


def test_department_comment_in_place() -> None:
    sent = report_text([], dept="RES")
    raw = clients.outlook_in_place(report_raw(sent), MARK, {"RES comment": "Steady quarter."})
    assert answers(read(raw, sent, ["RES"])) == [("RES", "comment", "Steady quarter.")]


def _quote(text: str, style: str) -> str:
    if style == "gmail":
        quoted = "\n".join("> " + line if line else ">" for line in text.split("\n"))
        return f"Thanks\n\nOn Fri, 1 May 2026 at 09:00, Team <p@x.example> wrote:\n\n{quoted}"
    if style == "outlook":
        return (
            "Thanks\n\n________________________________\nFrom: Team <p@x.example>\n"
            "Sent: 01 May 2026 09:00\nTo: Mark\nSubject: Owner report\n\n" + text
        )
    return text  # pasted whole, unmarked


@settings(max_examples=60, deadline=None)
@given(
    codes=st.lists(
        st.from_regex(r"[A-Z]{1,3}[0-9]{1,3}[a-z]?", fullmatch=True),
        min_size=1,
        max_size=4,
        unique_by=str.casefold,
    ),
    dept=st.sampled_from([None, "RES", "CHS"]),
    style=st.sampled_from(["gmail", "outlook", "pasted"]),
)
def test_an_untouched_report_never_yields_anything(
    codes: list[str], dept: str | None, style: str
) -> None:
    sent = report_text(codes, dept)
    known = [*codes, *([dept] if dept else [])]
    reading = read_report_reply(_quote(sent, style), sent, known)
    assert reading.answers == []
    assert not reading.approve_all


@settings(max_examples=60, deadline=None)
@given(
    chosen=st.sampled_from(CODES),
    word=st.sampled_from(["yes", "x", "ok", "Yes.", "✓", "approved"]),
    style=st.sampled_from(["gmail", "outlook"]),
)
def test_one_filled_approve_line_approves_exactly_that_code(
    chosen: str, word: str, style: str
) -> None:
    filled = SENT.replace(f"[{chosen} approve]:", f"[{chosen} approve]: {word}")
    reading = read_report_reply(_quote(filled, style), SENT, CODES)
    assert [(a.code, a.verb) for a in reading.answers] == [(chosen, "approve")]


def test_a_short_line_that_says_no_is_not_a_name() -> None:
    for top in ("Approved, NI181 Not Yet", "Approved - Hold BV8a", "Approved. Except NI181"):
        reading = read(clients.iphone(RAW, MARK, top), SENT)
        assert not reading.approve_all, top
    for top in (
        "approve all",
        "I approve these.",
        "Approved - thanks, Mark",
        "Hi,\nApproved\nM. Ellison",
    ):
        assert read(clients.gmail_top_posted(RAW, MARK, top), SENT).approve_all, top
