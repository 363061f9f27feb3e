"""Bounded cost per message (issue 12): the parsers' work is linear, and capped.

No test here measures time (timings belong in ``benchmarks/cost.py``). Work is counted
instead: the regex and predicate calls the signature trimmers make, the dates tried in a
note, the message ids normalised, the checkpoints passed. A quadratic algorithm does four
times the work on twice the input, a linear one twice, so each test compares the two.
Where a cap applies, the test lowers it (:class:`~mailcapture.parsing.mime.Limits`) and
checks both the note and that the first part of the message was still read.

The messages are built here (the huge ones must be) or read from
``tests/corpus/hostile/cost_*.eml`` (see SOURCES.md there, "Cost per message").
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from mailcapture.parsing import form, mime, quotes, values
from mailcapture.parsing.classify import Kind, classify
from mailcapture.parsing.form import MAX_NOTES, read_reply
from mailcapture.parsing.mime import Limits, decode_message
from mailcapture.parsing.quotes import CHECK_EVERY, line_roles, split_reply
from tests.conftest import CORPUS

HOSTILE = CORPUS / "hostile"
CODES = ["BV8a.1", "BV8a.2"]


def _hostile(name: str) -> bytes:
    return (HOSTILE / name).read_bytes().replace(b"@TOKEN@", b"abcdefghijklmnop")


class _Counter:
    """Counts calls through ``wrapped`` (a function or a compiled pattern's method)."""

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.wrapped(*args, **kwargs)


class _CountingPattern:
    """A compiled pattern whose matching calls are counted."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.pattern, name)
        if name in ("match", "fullmatch", "search", "findall", "finditer", "sub"):
            self.calls += 1
        return method


@contextmanager
def _trimmer_work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """Everything the trimmers ask of a line, counted: separator, mobile signature, "-- ",
    list footer and disclaimer tests (the disclaimer test weighted by its text's length)."""
    separator = _Counter(quotes._is_separator)
    mobile = _Counter(quotes._is_mobile_signature)
    dashes = _CountingPattern(quotes._DASH_SIGNATURE)
    footer = _CountingPattern(quotes._MAILING_LIST)
    read: list[int] = []

    def disclaimer(text: str) -> bool:
        read.append(len(text))
        return bool(original_disclaimer(text))

    original_disclaimer = quotes._is_disclaimer
    monkeypatch.setattr(quotes, "_is_separator", separator)
    monkeypatch.setattr(quotes, "_is_mobile_signature", mobile)
    monkeypatch.setattr(quotes, "_DASH_SIGNATURE", dashes)
    monkeypatch.setattr(quotes, "_MAILING_LIST", footer)
    monkeypatch.setattr(quotes, "_is_disclaimer", disclaimer)
    monkeypatch.setattr(quotes, "_LAST_SCAN", None)

    def total() -> int:
        return separator.calls + mobile.calls + dashes.calls + footer.calls + sum(read) // 80

    yield total


def _dash_reply(count: int, salt: str = "") -> str:
    return f"BV8a.1: 1234{salt}\nBV8a.2: 1300\n\nThanks\n" + "-- \n" * count


# --------------------------------------------------------------------------------------------
# The trimmers and splitters are linear
# --------------------------------------------------------------------------------------------


def test_dash_signature_lines_are_trimmed_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """8,000 ``-- `` lines took 7.5 s: every cut of ten lines recomputed the block, cleared
    to the end of the text and re-read the whole paragraph for disclaimer words. The work
    for twice the lines is now about twice the work, not four times."""
    work = []
    for count in (2_000, 4_000):
        with _trimmer_work(monkeypatch) as total:
            split = split_reply(_dash_reply(count, salt=str(count)))
            work.append(total())
        assert split.new_text == f"BV8a.1: 1234{count}\nBV8a.2: 1300\n\nThanks"
        assert split.boundary == "signature:dashes"
        assert split.quoted_text.count("--") == count
    assert work[1] < 2.3 * work[0], work
    assert work[1] < 20 * 4_000, work  # a handful of looks per line, not one per line per cut


def test_the_dash_lines_sample_leaves_only_the_answers() -> None:
    """``cost_dash_lines.eml``: 2,000 ``-- `` lines under a reply are all cut away."""
    decoded = decode_message(_hostile("cost_dash_lines.eml"))
    split = split_reply(decoded.text)
    assert split.new_text == "BV8a.1: 1234\nBV8a.2: 1300\n\nThanks"
    reading = read_reply(decoded.text, None, CODES)
    assert [(a.code, a.text) for a in reading.answers] == [("BV8a.1", "1234"), ("BV8a.2", "1300")]


def test_signatures_chained_below_each_other_are_all_cut_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Signature after signature (each ``-- `` with a name, a mobile line and a list footer):
    the trimmers cut them one at a time from the end, each cut reading only the end."""

    def chained(count: int) -> str:
        block = "-- \nSam\nSent from my iPhone\n_______\nmailman/listinfo/finance\n"
        return "BV8a.1: 1234\n\nRegards\n" + block * count

    work = []
    for count in (500, 1_000):
        with _trimmer_work(monkeypatch) as total:
            split = split_reply(chained(count))
            work.append(total())
        assert split.new_text == "BV8a.1: 1234\n\nRegards"
    assert work[1] < 2.3 * work[0], work


def test_a_long_trailing_paragraph_is_not_searched_for_disclaimer_words_after_each_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A paragraph is read for disclaimer words once: cutting lines from its end cannot
    make it a disclaimer, and one past 10,000 characters is the sender's own text."""
    long_paragraph = "".join(f"line {n} of the sender's own explanation\n" for n in range(400))
    with _trimmer_work(monkeypatch):
        read: list[int] = []
        original = quotes._is_disclaimer

        def disclaimer(text: str) -> bool:
            read.append(len(text))
            return bool(original(text))

        monkeypatch.setattr(quotes, "_is_disclaimer", disclaimer)
        split = split_reply("Hello\n\n" + long_paragraph + "-- \n" * 3_000)
    assert split.new_text.endswith("line 399 of the sender's own explanation")
    assert sum(read) < 20_000, read


def test_thousands_of_blank_lines_before_the_text_cost_one_pass() -> None:
    """A fragment that opens with many blank lines is sliced, not popped a line at a time."""
    split = split_reply("\n" * 50_000 + "BV8a.1: 1234\n" + "\n" * 50_000)
    assert split.new_text == "BV8a.1: 1234"


def test_split_and_read_share_one_analysis_of_the_same_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline reads the form (line roles) and then splits the reply: the same text is
    scanned once."""
    calls = _Counter(quotes._find_boundaries)
    monkeypatch.setattr(quotes, "_find_boundaries", calls)
    monkeypatch.setattr(quotes, "_LAST_SCAN", None)
    text = "BV8a.1: 1234\n\nOn Fri, 1 May 2026 at 09:00, Team <p@x.example> wrote:\n> [BV8a.1]:\n"
    read_reply(text, None, CODES)
    split_reply(text)
    line_roles(text)
    assert calls.calls == 1
    split_reply(text + "\n")  # another text: analysed afresh
    assert calls.calls == 2


# --------------------------------------------------------------------------------------------
# The attribution patterns: linear, and matching what they matched before
# --------------------------------------------------------------------------------------------

# The three patterns rewritten for issue 12, as they were: the specification of what must
# still match. (The other patterns changed only by possessive runs, which match the same.)
_OLD_COLON = r"\s*[:：]"
_OLD_PATTERNS = {
    "am-schrieb:de": r"Am\s.{3,250}?\sschrieb\s.{0,250}?" + _OLD_COLON,
    "op-geschreven:nl": (
        r"Op\s.{3,250}?\s(?:het\s+volgende\s+geschreven|schreef\s.{0,250}?)" + _OLD_COLON
    ),
    "den-skrev:da-no-sv": r"Den\s.{3,250}?\sskrev\s.{0,250}?" + _OLD_COLON,
    "name-wrote:en": r".{0,150}?<?[^\s<>@]+@[^\s<>@]+>?\s+wrote" + _OLD_COLON,
    "date-name": r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}.{0,150}?<[^\s<>@]+@[^\s<>@]+>" + _OLD_COLON,
    "on-wrote:en": r"On\s.{3,250}?\swrote" + _OLD_COLON,
}


def test_the_rewritten_attribution_patterns_match_exactly_what_they_matched_before() -> None:
    """Built windows of verbs, names, addresses, dates, spaces and colons in random order
    (seeded): each rewritten pattern accepts exactly the windows the old one accepted."""
    pieces = [
        *("Am", "Op", "Den", "On", " ", "  ", "\t", "schrieb", "schreef", "skrev", "wrote"),
        *("het volgende geschreven", "a", "x" * 50, "x" * 120, "@", "<", ">", "5"),
        *("m@x.example", "<m@x.example>", ":", "：", " :", "1.2.2020", "12/05/2026"),
    ]
    new = {rule.name: rule.pattern for rule in quotes._ATTRIBUTIONS}
    rnd = random.Random(12)
    matched = dict.fromkeys(_OLD_PATTERNS, 0)
    for _ in range(30_000):
        window = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14)))
        if rnd.random() < 0.5:
            window = rnd.choice(["Am ", "Op ", "Den ", "On ", "12.05.2026 ", ""]) + window
        if rnd.random() < 0.6:
            window += rnd.choice([":", " :", "：", "  :"])
        for name, old in _OLD_PATTERNS.items():
            before = re.fullmatch(old, window, re.IGNORECASE) is not None
            assert (new[name].fullmatch(window) is not None) == before, (name, window)
            matched[name] += before
    assert all(count >= 3 for count in matched.values()), matched  # both outcomes were tried


def test_attribution_patterns_are_not_run_on_lines_that_cannot_be_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line must end as an attribution ends (a colon, or Zoho's dashes), be no longer than
    1,000 characters and hold the pattern's verb before a pattern runs on it: the 10 MB line
    and the 800-character "Am ... schrieb ... x:" lines of issue 12 run none or one."""
    counters = []
    rules = []
    for rule in quotes._ATTRIBUTIONS:
        counter = _CountingPattern(rule.pattern)
        counters.append(counter)
        rules.append(dataclasses.replace(rule, pattern=counter))  # type: ignore[arg-type]
    monkeypatch.setattr(quotes, "_ATTRIBUTIONS", tuple(rules))

    def runs(line: str) -> int:
        before = sum(c.calls for c in counters)
        assert quotes._match_attribution([line], 0) is None
        return sum(c.calls for c in counters) - before

    assert runs("1@" + "x" * 10_000_000 + ":") == 0  # too long to be one
    assert runs("12 May 2026 " + "x" * 500) == 0  # does not end with a colon
    assert runs("Thanks for the 2 figures:") == 0  # no verb of any pattern
    assert runs("Am 1. Mai " + "schrieb " * 100 + "x:") == 2  # am-schrieb, schrieb-am
    assert quotes._match_attribution(["Am 1. Mai 2026 schrieb Max <m@x.example>:"], 0) == (
        0,
        "am-schrieb:de",
    )


def test_a_ten_megabyte_line_is_read_to_its_cap_and_the_answers_still_count() -> None:
    """``cost_long_line.eml`` has a 30,000-character line (``a@`` then letters, the shape that
    made the address pattern rescan the line from 150 offsets); a 10 MB one is built here.
    Only the first 10,000 characters of such a line are read, with a note."""
    for raw in (
        _hostile("cost_long_line.eml"),
        _hostile("cost_long_line.eml").replace(b"x" * 30_000, b"x" * 10_000_000),
    ):
        decoded = decode_message(raw)
        assert max(len(line) for line in decoded.text.split("\n")) == 10_000
        assert decoded.truncated == [
            "1 line(s) longer than 10,000 characters: only the first 10,000 characters of each "
            "were read"
        ]
        assert decoded.defects[0] == decoded.truncated[0]
        reading = read_reply(decoded.text, None, CODES)
        assert [a.text for a in reading.answers] == ["1234", "1300"]


def test_bounce_detectors_see_short_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bounce_exchange_huge_line.eml`` is the corpus's Exchange 5.5 non-delivery report with
    a 130,000-character line inside the part that flufl.bounce's Exchange detector reads (fuzz
    case 8502). The detector's address pattern is quadratic in a line's length: 23 s of CPU.
    The detectors are now shown a copy with every line cut to 500 characters, and the
    message is still read as the bounce it is."""
    from flufl import bounce

    raw = (HOSTILE / "bounce_exchange_huge_line.eml").read_bytes()
    assert max(len(line) for line in raw.split(b"\n")) > 100_000
    seen: list[int] = []
    original = bounce.all_failures

    def recording(msg: Any) -> Any:
        for part in msg.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                seen.append(max(len(line) for line in payload.split(b"\n")))
        return original(msg)

    monkeypatch.setattr(bounce, "all_failures", recording)
    verdict = classify(decode_message(raw), raw)
    assert seen and max(seen) <= 500
    assert verdict.kind is Kind.BOUNCE


# --------------------------------------------------------------------------------------------
# The form reader and the value parser are linear
# --------------------------------------------------------------------------------------------


def test_thousands_of_unknown_codes_make_a_bounded_list_of_notes() -> None:
    """Each unknown code is a note; notes were de-duplicated by a scan of the list (quadratic
    in 10,000 lines) and every one went into the confirmation. Now the first 50 are kept
    and the rest counted."""
    text = "BV8a.1: 1234\n" + "".join(f"X{n}.1: 5\n" for n in range(5_000))
    reading = read_reply(text, None, CODES)
    assert [a.text for a in reading.answers] == ["1234"]
    assert len(reading.ignored) == MAX_NOTES + 1
    assert reading.ignored[0] == "X0.1 is not on your form; not taken"
    assert reading.ignored[-1] == f"{5_000 - MAX_NOTES} more note(s) like these were left out"


def test_repeated_comments_are_merged_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same comment line many times is one comment; each was compared with a set rebuilt
    from all the earlier ones (quadratic)."""
    calls = _Counter(form._norm)
    monkeypatch.setattr(form, "_norm", calls)
    work = []
    for count in (1_000, 2_000):
        calls.calls = 0
        text = "BV8a.1 comment: same again\n" * count
        reading = read_reply(text + f"BV8a.2: {count}\n", None, CODES)
        work.append(calls.calls)
        assert [(a.code, a.kind, a.text) for a in reading.answers] == [
            ("BV8a.1", "comment", "same again"),
            ("BV8a.2", "value", str(count)),
        ]
    assert work[1] < 2.3 * work[0], work


def test_a_conflict_note_lists_a_few_answers_not_all() -> None:
    text = "".join(f"BV8a.1: {n}\n" for n in range(1_000))
    reading = read_reply(text, None, CODES)
    assert reading.answers == []
    assert len(reading.conflicts) == 1
    assert reading.conflicts[0].count("(line ") == 5
    assert "and 995 more" in reading.conflicts[0]


def test_the_general_comment_collapses_blank_runs_in_one_pass() -> None:
    # Words no greeting or sign-off: those are left out of the general comment (issue 13).
    reading = read_reply("Figures\n" + "\n" * 20_000 + "  follow\n\n\nsoon", None, CODES)
    assert reading.general_comment == "Figures\n\nfollow\n\nsoon"


def test_a_not_available_note_full_of_dates_words_is_read_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``n/a on ... on ... by 15 May 2026``: the rest after every "on" or "by" was tried as a
    date, each try reading the rest to its end. Only a rest short enough to be a date is."""
    calls = _Counter(values.parse_uk_date)
    monkeypatch.setattr(values, "parse_uk_date", calls)
    answer = "n/a (rota) " + "on call " * 700 + "by 15 May 2026"
    parsed = values.parse_value(answer, "number", date(2026, 5, 5))
    assert parsed.kind == "not_available"
    assert parsed.available_from == date(2026, 5, 15)
    assert calls.calls <= 10  # the few rests that are short enough, not one per "on"


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def test_the_parsers_call_their_checkpoint_in_proportion_to_the_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline's time budget is cooperative: the parsers call the checkpoint they are
    given every few hundred lines, and stop when it raises."""
    monkeypatch.setattr(quotes, "_LAST_SCAN", None)
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    text = "BV8a.1: 1234\n" + "ok\n" * (CHECK_EVERY * 40)
    read_reply(text, None, CODES, count)
    assert 2 * 40 <= calls <= 5 * 40

    class Stop(Exception):
        pass

    def stop_after_ten() -> None:
        nonlocal calls
        calls += 1
        if calls > 10:
            raise Stop

    calls = 0
    monkeypatch.setattr(quotes, "_LAST_SCAN", None)
    with pytest.raises(Stop):
        split_reply(text + "more\n", stop_after_ten)
    assert calls == 11


# --------------------------------------------------------------------------------------------
# The caps: each leaves a note, and the first part is read
# --------------------------------------------------------------------------------------------


def test_past_the_line_cap_the_first_lines_are_read() -> None:
    """1 MB of short lines cost 25 s; now only the first ``max_lines`` are read."""
    raw = _hostile("cost_dash_lines.eml")
    decoded = decode_message(raw, Limits(max_lines=50))
    assert decoded.text.count("\n") == 49
    assert decoded.truncated == ["only the first 50 lines of the message were read (it has 2,005)"]
    assert [a.text for a in read_reply(decoded.text, None, CODES).answers] == ["1234", "1300"]


def test_past_the_character_cap_the_first_whole_lines_are_read() -> None:
    raw = _hostile("cost_dash_lines.eml")
    decoded = decode_message(raw, Limits(max_text_chars=1_000))
    assert len(decoded.text) <= 1_000
    assert decoded.text.startswith("BV8a.1: 1234\nBV8a.2: 1300\n")
    assert decoded.truncated == [
        "only the first 1,000 characters (245 lines) of the message were read (it has 8,034)"
    ]


def test_past_the_raw_line_cap_the_parser_sees_the_first_lines() -> None:
    """25 MB of empty lines would hold the stdlib parser for 50 s in one call."""
    raw = _hostile("cost_dash_lines.eml")
    decoded = decode_message(raw, Limits(max_raw_lines=30))
    assert decoded.truncated[0].startswith("only the first 30 lines of the raw message were parsed")
    assert [a.text for a in read_reply(decoded.text, None, CODES).answers] == ["1234", "1300"]
    _tree, notes = mime.parse_mime(raw, Limits(max_raw_lines=30))
    assert notes[0] == decoded.truncated[0]


def test_past_the_html_caps_the_start_of_the_table_is_read() -> None:
    """``cost_html_table.eml``: an HTML-only reply with a 2,000-cell table under the answers.
    The converter costs about 20 µs a cell, so it gets the first ``max_html_tags`` tags."""
    raw = _hostile("cost_html_table.eml")
    whole = decode_message(raw)
    assert whole.truncated == [] and "1999" in whole.text
    decoded = decode_message(raw, Limits(max_html_tags=200))
    assert decoded.truncated == ["only the first 200 HTML tags (of 4,215) were read"]
    assert "1999" not in decoded.text and "80" in decoded.text
    assert [a.text for a in read_reply(decoded.text, None, CODES).answers] == ["1234", "1300"]
    short = decode_message(raw, Limits(max_html_chars=1_000))
    assert short.truncated == ["only the first 1,000 characters of the HTML (of 26,077) were read"]
    assert [a.text for a in read_reply(short.text, None, CODES).answers] == ["1234", "1300"]


def test_past_the_text_parts_cap_the_first_parts_are_read() -> None:
    """``cost_many_text_parts.eml``: 120 inline text parts, over the default cap of 100."""
    decoded = decode_message(_hostile("cost_many_text_parts.eml"))
    assert decoded.truncated == ["the message has 120 text parts: only the first 100 were read"]
    assert "line 100 of a long reply" in decoded.text
    assert "line 101 of a long reply" not in decoded.text
    assert [a.text for a in read_reply(decoded.text, None, CODES).answers] == ["1234", "1300"]


def test_past_the_header_caps_the_first_fields_are_read() -> None:
    """``cost_header_fields.eml``: 1,500 header fields, over the default cap of 1,000."""
    decoded = decode_message(_hostile("cost_header_fields.eml"))
    assert decoded.truncated == [
        "the message has 1,508 header fields: only the first 1,000 were read"
    ]
    assert len(decoded.headers) == 1_000
    assert decoded.from_address == "kevin.walsh@ashdown.example"
    long_subject = _hostile("cost_dash_lines.eml").replace(
        b"Subject: RE:", b"Subject: " + b"=?utf-8?q?caf=C3=A9?= " * 5_000 + b"RE:"
    )
    decoded = decode_message(long_subject, Limits(max_header_chars=1_000))
    assert decoded.truncated == [
        "1 header field(s) longer than 1,000 characters: only the first 1,000 of each were read"
    ]
    assert decoded.subject.startswith("cafécafé") and len(decoded.subject) < 1_000


def test_an_address_list_is_cut_between_addresses() -> None:
    raw = _hostile("cost_dash_lines.eml").replace(
        b"To: returns@returns.ashdown.example",
        b"To: returns@returns.ashdown.example, "
        + b", ".join(b"someone.%d@elsewhere.example" % n for n in range(2_000)),
    )
    decoded = decode_message(raw, Limits(max_header_chars=1_000))
    assert decoded.to[0] == "returns@returns.ashdown.example"
    assert all(re.fullmatch(r"someone\.\d+@elsewhere\.example", a) for a in decoded.to[1:])


def test_references_past_the_cap_keep_the_first_and_last_ids_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cost_references.eml``: our request's id and then 1,000 others. 70,000 ids cost 25 s
    (each de-duplicated against a list). The first and last halves of the cap are read, so
    the thread's first message, our request, still matches."""
    calls = _Counter(mime.normalise_message_id)
    monkeypatch.setattr(mime, "normalise_message_id", calls)
    raw = _hostile("cost_references.eml").replace(b"@IN_REPLY_TO@", b"<request-1@ashdown.example>")
    decoded = decode_message(raw, Limits(max_references=10))
    assert decoded.references[0] == "request-1@ashdown.example"
    assert len(decoded.references) == 10
    assert decoded.references[1] == "thread-0000.0@lists.example"
    assert decoded.references[-1] == "thread-0999.5551@lists.example"
    assert decoded.truncated == [
        "References lists 1,001 message ids: only the first 5 and the last 5 were read"
    ]
    assert calls.calls < 20
    huge = raw.replace(
        b"References: <request-1@ashdown.example>\n",
        b"References: <request-1@ashdown.example>\n"
        + b"".join(b" <n%d@spam.example>\n" % n for n in range(70_000)),
    )
    calls.calls = 0
    decoded = decode_message(huge)
    assert decoded.references[0] == "request-1@ashdown.example" and len(decoded.references) == 100
    assert calls.calls < 120


def test_within_every_cap_nothing_is_noted() -> None:
    """A normal reply is read whole: no cap touches it."""
    decoded = decode_message((CORPUS / "replies" / "android5_gmail_app_reply.eml").read_bytes())
    assert decoded.truncated == []
