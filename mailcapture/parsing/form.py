"""Read answers out of a reply: form lines, commentary and the general comment.

People answer our request form in many ways (issue 13): by typing after the colon of a form
line (often in the *quoted* copy of our message: Outlook leaves that copy unprefixed, Gmail
prefixes it with ``> ``), by typing on their own line under a quoted form line (answering
inline, as Apple Mail, Thunderbird and Outlook users do), by writing lines that start with a
code at the top, by pasting rows or a whole table from a spreadsheet, and by writing free text
(a general comment, commentary under an item or on ``[CODE comment]:`` lines).

The answer grammar, for a line of the sender's own text (``docs/register.md`` says it for
people): the line starts with one of the sender's codes, or ``[CODE]``, matched exactly but for
letter case and with the code's own dots and spaces; then ``:`` or ``=``, or `` - `` / `` – ``,
or a tab, or a run of spaces, or the item's title copied with the code (a spreadsheet row,
``CODE<TAB>title<TAB>value``); then the answer. A ``-`` straight after the code's space and
before a digit is a minus sign unless the form we sent says the item takes no negative
figures ("Allowed: 0 to ..."), where it separates code and figure. A table is a header row
naming a code column and a value column (a comment column too, any order, other columns
allowed; tab- or space-separated) and then one row per item.

The danger is reading our own text back as an answer. So, when we know the exact text we sent
(``sent_form_text``), a form line counts only if its answer differs from what that line said
when we sent it (normally nothing after the colon; for a confirmation, the figure we showed).
An untouched copy is never an answer. When we do not know what we sent, only unquoted lines in
the sender's new text count.

Decisions (each keeps a wrong figure from being stored silently):

* No precedence between places: when the same code is answered in two places with different
  answers (say a top line and the quoted form), that is a *conflict*, reported, and neither is
  taken. The same answer twice is taken once.
* Answers are not joined across lines of one form line. A mailer that wraps a form line so
  that the answer lands on the next line leaves nothing readable on the item line; we note it
  rather than guess.
* Answering inline: under a copy of our form line whose answer is empty, the sender's next
  non-empty lines (unquoted; in Outlook's unprefixed copy, lines that are not ours), past
  blank lines and our own context lines ("Last period: ..."), are that item's answer *when the
  first of them reads as one on its own*: a figure (maybe with a trailing note), n/a, nil, or
  one whole milestone status (:func:`mailcapture.parsing.values.looks_like_answer`); the lines
  after it are the item's comment. Any other text there ("Waiting for the reconciliation") is
  the item's comment, never its value. This reverses an earlier rule (free text under an item
  was always a comment): replies answered that way ended "comment-only, 0 accepted", and a
  line that is nothing but a figure under an empty form line has no other reading. The scan
  stops at the next form line, so nothing under another item is taken.
* Trailing notes: ``2401 (provisional)`` and ``2401 - see note`` store 2401 and keep the note
  as the item's comment (:func:`mailcapture.parsing.values.split_note`); a note with a figure
  in it is left in the answer, which is then rejected.
* No answer lost silently: a line of the sender's new text that starts with one of their item
  codes is read as that item's answer, and when it cannot be read it is rejected with the
  reason (by :func:`mailcapture.parsing.values.parse_value` or ``parse_status``), unless the
  item is answered elsewhere in the reply, when the line is that item's comment. A line that
  names an item code elsewhere in it is left out of the general comment with a note saying so.
* Codes are matched to the form's codes ignoring case (the register compares codes that way).
  A code that is not on the sender's form is ignored with a note.
* Free text is an item's comment only under a copy of a form item line (``[CODE] label:`` or
  ``[CODE comment]:``, quoted or not), and lines under a comment line continue that comment.
  Under a bare top line (``BV8a.1: 1234``) the next line is as likely to be "Thanks, Sam", so
  top-posted commentary needs ``BV8a.1 comment: ...``.
* Only the message being replied to is read: ``>`` depth 1, or the unprefixed original up to
  the next header block (Outlook quotes a whole thread). Older messages further down may hold
  an earlier answer of the sender's that would otherwise look like a fresh one.
* The general comment is the sender's new text that is not a form line, not commentary under
  an item, not a copy of our own text and names none of their item codes; it may stand above
  or below the top-posted lines. Greetings ("Hi team,"), sign-offs ("Thanks, Fiona",
  "Regards") and the few short lines of signature after a sign-off are no commentary. Mobile
  and "-- " signatures and legal disclaimers were already cut by
  :func:`mailcapture.parsing.quotes.split_reply`'s rules.
* Line numbers are 1-based, in the ``\\n``-normalised text.

Linear in the text: each pass looks at a line a bounded number of times (the inline scan is
bounded by the next form line), and the sender's codes are looked up by their first word at a
line's start or where a word starts, never compiled into a pattern per reply (see _Words).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from mailcapture.parsing.quotes import (
    CHECK_EVERY,
    Checkpoint,
    LineRole,
    line_roles,
    normalise_text,
    quote_depth,
    strip_quote_prefix,
)
from mailcapture.parsing.values import looks_like_answer, split_note

__all__ = ["Answer", "FormLine", "FormReading", "find_form_lines", "read_reply"]

#: ``unread``: a line that names one of the sender's items but gives no answer we could read
#: (a code inside a sentence, alone on its line, a line the mail program split, an answer we
#: could not tell apart): the item gets a rejected line with the reason, never silence.
Kind = Literal["value", "comment", "unread"]
#: Where an answer was found: above the quote, on our form in place, in the quoted form,
#: or in our spreadsheet form attached to the reply (:mod:`.sheet_answers`).
Source = Literal["top", "form-in-place", "quoted-form", "sheet"]


@dataclass(frozen=True)
class FormLine:
    """One line that names a code; ``line_no`` is 1-based in the ``\\n``-normalised text."""

    code: str
    label: str
    answer: str
    line_no: int
    quoted: bool
    kind: Kind


@dataclass(frozen=True)
class Answer:
    """One answer the sender gave: a value's text (parsed later, by unit) or a comment."""

    code: str
    kind: Kind
    text: str
    source: Source
    line_no: int
    #: Why nothing was read from the line (``unread`` answers only).
    reason: str = ""
    #: Where a spreadsheet answer came from (``return-2026-04.xlsx, Return!H9``); empty for
    #: a typed one. Stored with the value, for the audit trail.
    origin: str = ""


@dataclass(frozen=True)
class FormReading:
    """Everything read from one reply; ``ignored`` and ``conflicts`` are notes for people."""

    answers: list[Answer]
    general_comment: str
    ignored: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Finding form lines
# --------------------------------------------------------------------------------------------

_BULLET = r"(?:[-*•]\s+)?"
_COMMENT_WORD = r"(?:comments?|notes?|commentary)"
_BRACKETED = re.compile(
    rf"\s*{_BULLET}\[\s*(?P<code>[^\]\s]+)(?:\s+(?P<comment>{_COMMENT_WORD}))?\s*\]\s*(?P<rest>.*)",
    re.IGNORECASE,
)
_BARE = re.compile(
    rf"\s*{_BULLET}(?P<code>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\s+(?P<comment>{_COMMENT_WORD}))?"
    r"\s*[:：=]\s*(?P<answer>.*)",
    re.IGNORECASE,
)
# The colon ending a label, but not one inside a time such as 10:30.
_LABEL_COLON = re.compile(r"(?<!\d)[:：]|[:：](?!\d)")
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")


def _looks_like_code(code: str) -> bool:
    """BV8a.1, P07.M0, NI192, 1.2 — a digit, and a dot or a leading letter; not a date."""
    if len(code) > 24 or not any(ch.isdigit() for ch in code) or not code[-1].isalnum():
        return False
    if _DATE_LIKE.fullmatch(code):
        return False
    return "." in code or code[0].isalpha()


def _split_label(rest: str) -> tuple[str, str]:
    """("label", "answer") from the text after ``[CODE]``; no colon means no label."""
    stripped = rest.strip()
    if stripped[:1] in (":", "："):
        return "", stripped[1:].strip()
    m = _LABEL_COLON.search(stripped)
    if not m:
        return "", stripped
    return stripped[: m.start()].strip(), stripped[m.end() :].strip()


def _parse_form_line(line: str, line_no: int) -> FormLine | None:
    body = strip_quote_prefix(line)
    quoted = quote_depth(line) > 0
    m = _BRACKETED.fullmatch(body)
    if m and _looks_like_code(m.group("code")):
        label, answer = _split_label(m.group("rest"))
        kind: Kind = "comment" if m.group("comment") else "value"
        return FormLine(m.group("code"), label, answer, line_no, quoted, kind)
    m = _BARE.fullmatch(body)
    if m and _looks_like_code(m.group("code")):
        kind = "comment" if m.group("comment") else "value"
        return FormLine(m.group("code"), "", m.group("answer").strip(), line_no, quoted, kind)
    return None


def _go_on() -> None:
    """The default checkpoint: read to the end."""


def find_form_lines(text: str, checkpoint: Checkpoint = _go_on) -> list[FormLine]:
    """Every line naming a code: ``[CODE] label: answer``, ``[CODE comment]: text``,
    ``[CODE] answer``, ``CODE: answer`` and ``CODE = answer``, quoted (``>``) or not.

    Tolerates spaces before the colon and the full-width colon. Does not join a wrapped answer
    from the next line (see the module docstring).
    """
    return _form_lines(normalise_text(text).split("\n"), checkpoint)


def _form_lines(lines: Sequence[str], checkpoint: Checkpoint = _go_on) -> list[FormLine]:
    """:func:`find_form_lines` on lines already normalised (``normalise_text`` changes
    nothing the second time), so a reader's text is not normalised once more."""
    found = []
    for i, line in enumerate(lines):
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            checkpoint()
        parsed = _parse_form_line(line, i + 1)
        if parsed is not None:
            found.append(parsed)
    return found


# --------------------------------------------------------------------------------------------
# What we sent
# --------------------------------------------------------------------------------------------


# The fixed patterns of the per-reply path are compiled here, once: re's own cache of 512
# patterns would otherwise have to hold them.
_WS_RUN = re.compile(r"\s+")
_THOUSANDS_GAP = re.compile(r"(?<=\d)[, ](?=\d{3}\b)")
_UNIT_SUFFIX = re.compile(r"\s*\([^()]*\)$")


def _norm(text: str) -> str:
    return _WS_RUN.sub(" ", text).strip().casefold()


def value_key(text: str) -> str:
    """Two spellings of the same answer compare equal: 1,234 / 1234 / '1234.'."""
    t = _norm(text).rstrip(".")
    return _THOUSANDS_GAP.sub("", t)


@dataclass
class _SentItem:
    label: str
    answers: set[str]


#: "Allowed: 0 to 20,000" under a form line: the lowest figure the item takes.
_ALLOWED = re.compile(r"\bAllowed:\s*(?P<low>up to\b|[-\u2212]|[£$€]?\s*\d)", re.IGNORECASE)


@dataclass
class _SentForm:
    """What we sent: the form lines with their answers, every line (normalised), the context
    lines indented under form lines, and the codes whose sent range starts at 0 or above."""

    items: dict[tuple[str, Kind], _SentItem]
    lines: set[str]
    context: set[str] = field(default_factory=set)
    no_negatives: set[str] = field(default_factory=set)

    @classmethod
    def from_text(cls, text: str) -> _SentForm:
        items: dict[tuple[str, Kind], _SentItem] = {}
        raw_lines = normalise_text(text).split("\n")
        form_lines = {fl.line_no - 1: fl for fl in _form_lines(raw_lines)}
        for fl in form_lines.values():
            item = items.setdefault((fl.code.casefold(), fl.kind), _SentItem(fl.label, set()))
            item.answers.add(_norm(fl.answer))
        lines = {_norm(strip_quote_prefix(line)) for line in raw_lines} - {""}
        context: set[str] = set()
        no_negatives: set[str] = set()
        under: FormLine | None = None
        for i, line in enumerate(raw_lines):
            if i in form_lines:
                under = form_lines[i]
                continue
            body = strip_quote_prefix(line)
            if under is None or not body.strip() or not body[:1].isspace():
                under = None
                continue
            context.add(_norm(body))
            allowed = _ALLOWED.search(body)
            if allowed and under.kind == "value":
                low = allowed.group("low").casefold()
                if low[:1] not in ("-", "\u2212") and not low.startswith("up"):
                    no_negatives.add(under.code.casefold())
        return cls(items, lines, context, no_negatives)

    def title_stems(self, code: str) -> list[tuple[str, bool]]:
        """The titles someone may copy with the code, as ``(stem, cut)``: our label, and our
        label without its unit. ``cut`` when we shortened a long title with "...": a copied
        title then need only start with the stem."""
        item = self.items.get((code.casefold(), "value"))
        if item is None or not item.label:
            return []
        label = _norm(item.label)
        stems: list[tuple[str, bool]] = []
        for stem in dict.fromkeys((label, _UNIT_SUFFIX.sub("", label))):
            cut = stem.endswith(("...", "…"))
            stem = stem.rstrip(".…").rstrip() if cut else stem
            if stem:
                stems.append((stem, cut))
        return stems

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> _SentForm:
        """Everything we sent about one request, each message parsed once and then merged.

        A reply is read against the request, its reminders and every earlier confirmation;
        those texts never change, so each is parsed once (:func:`_parsed_sent`, keyed by
        the text itself) and only the cheap merge is done per reply. Merging gives the same
        form as parsing the texts joined: the first label seen for a code wins, answers and
        lines are unions.
        """
        items: dict[tuple[str, Kind], _SentItem] = {}
        lines: set[str] = set()
        context: set[str] = set()
        no_negatives: set[str] = set()
        for text in texts:
            one = _parsed_sent(text)
            for key, sent in one.items.items():
                item = items.setdefault(key, _SentItem(sent.label, set()))
                item.answers |= sent.answers
            lines |= one.lines
            context |= one.context
            no_negatives |= one.no_negatives
        return cls(items, lines, context, no_negatives)


@lru_cache(maxsize=4096)
def _parsed_sent(text: str) -> _SentForm:
    """One of our sent texts, parsed; callers copy before changing (``from_texts`` does)."""
    return _SentForm.from_text(text)


@dataclass(frozen=True)
class _Read:
    answer: str
    matches_sent_label: bool
    wrapped: bool = False
    unclear: bool = False


_LABEL_THEN_ANSWER = re.compile(r"\s*(?:[:：]\s*(?P<answer>.*))?", re.IGNORECASE)
_LABEL_THEN_TEXT = re.compile(r"\s+(?P<after>[^:：]+)", re.IGNORECASE)


def _read_against_sent(fl: FormLine, raw: str, item: _SentItem | None) -> _Read:
    """The answer on a form line, using the label we sent to find where the answer starts.

    Knowing our label copes with a colon inside it, with a deleted colon ("[X] Label 1234")
    and with a line the mailer wrapped (only the start of our label is left on it).
    """
    if item is None or not item.label:
        return _Read(fl.answer, matches_sent_label=False)
    m = _BRACKETED.fullmatch(strip_quote_prefix(raw))
    rest = m.group("rest") if m else ""
    # Our label, then ":" and the answer, or an answer with no colon. Matched as
    # ``\s*LABEL\s*(?:[:：]\s*(?P<answer>.*))?`` and ``\s*LABEL\s+(?P<after>[^:：]+)`` were
    # (LABEL any case, any run of spaces between its words), without compiling a pattern
    # per label: labels differ from updater to updater (see _Words). The label is stripped
    # and not empty, so it starts after all the leading spaces and ends in one place.
    lead = _LEAD_WS.match(rest)
    end = _words(item.label).end(rest, lead.end() if lead else 0)
    hit = _LABEL_THEN_ANSWER.fullmatch(rest, end) if end is not None else None
    if hit:
        return _Read((hit.group("answer") or "").strip(), matches_sent_label=True)
    hit = _LABEL_THEN_TEXT.fullmatch(rest, end) if end is not None else None
    if hit:
        return _Read(hit.group("after").strip(), matches_sent_label=True)
    if rest.strip() and _norm(item.label).startswith(_norm(rest)):
        return _Read("", matches_sent_label=True, wrapped=True)
    # A label we did not send with a figure in it ("[X] was 1,480: 1,234"): unclear.
    unclear = bool(fl.label) and any(ch.isdigit() for ch in fl.label)
    return _Read(fl.answer, matches_sent_label=False, unclear=unclear)


# --------------------------------------------------------------------------------------------
# The answer grammar: a line that starts with one of the sender's codes
# --------------------------------------------------------------------------------------------


def _code_regex(code: str) -> str:
    """The code as written, any case, with its own dots and spaces (any run of spaces)."""
    return r"\s+".join(re.escape(part) for part in code.split())


# The code patterns used to be one compiled alternation of the sender's codes per reply
# (``\s*BULLET(?P<open>\[\s*)?(?P<code>CODE1|CODE2|...)BOUNDARY(...)(?(open)\s*\])(?P<rest>.*)``,
# IGNORECASE, longest first). Every updater has codes of their own and replies about once a
# month, so no cache ever held that pattern and compiling it cost more than the rest of
# reading the reply. Now only the fixed parts are compiled, once; a code is matched as its
# literal characters and whitespace runs, which is all ``_code_regex`` ever asks of the text.
# The results are those of the alternation exactly (tests/parsing/test_form_code_match.py
# compares them line by line), because:
#
# * A code's characters are never whitespace (they come from ``str.split``) and no
#   non-whitespace character matches whitespace when letter case is ignored, so a ``\s+`` in
#   a code takes the whole run of spaces and a code starts at no space: where a code matches
#   at a place, it matches one way, and the optional bullet, ``[`` and leading spaces of the
#   line start have one useful length each (the longest).
# * At one place in a line, codes that match are the same code in another case or spacing
#   (the same text) or one starts the other, and then the longer has the longer pattern: the
#   alternation's order, longest pattern first, tried place by place in the order the
#   engine backtracks (bullet and ``[``, bullet, ``[``, neither), is kept.
# * Letter case: two ASCII characters match when ``str.lower`` makes them equal, the same
#   character always matches itself, and any other pair is left to the very pattern the
#   alternation used for that code (compiled then, and cached). Which codes are tried at a
#   place is found by their first word in lower case; a non-ASCII character of the text
#   stands there for the one ASCII letter ``re`` says it matches (the Kelvin sign for k),
#   or for none.

_LEAD_WS = re.compile(r"\s*")
_BULLET_MARK = re.compile(r"[-*•]\s+")
_OPEN_BRACKET = re.compile(r"\[\s*")
_CODE_BOUNDARY = r"(?![A-Za-z0-9]|\.[A-Za-z0-9])"
_AFTER_CODE = rf"{_CODE_BOUNDARY}(?:\s+(?P<comment>{_COMMENT_WORD})(?![A-Za-z0-9]))?"
#: What follows a code at a line's start, without and with the ``[`` opened before it.
_CODE_REST = re.compile(rf"{_AFTER_CODE}(?P<rest>.*)", re.IGNORECASE)
_CODE_REST_CLOSED = re.compile(rf"{_AFTER_CODE}\s*\](?P<rest>.*)", re.IGNORECASE)
_CODE_END = re.compile(_CODE_BOUNDARY, re.IGNORECASE)
#: Where a code named in a sentence may start: not inside a word, a number or after a dot.
_MENTION_LOOKBEHIND = r"(?i:(?<![A-Za-z0-9.]))"
_ASCII = tuple(chr(i) for i in range(128))


@lru_cache(maxsize=4096)
def _literal(ch: str) -> re.Pattern[str]:
    """One character as a code pattern holds it: ``re.escape``, any case."""
    return re.compile(re.escape(ch), re.IGNORECASE)


@lru_cache(maxsize=4096)
def _ascii_twins(ch: str) -> frozenset[str]:
    """The ASCII characters (lower case) that a non-ASCII character matches, any case
    (the Kelvin sign matches k, the long s matches s)."""
    return frozenset(a.lower() for a in _ASCII if _literal(a).fullmatch(ch))


@lru_cache(maxsize=4096)
def _words_pattern(parts: tuple[str, ...]) -> re.Pattern[str]:
    """The pattern the alternation held for a code (or a label): for the rare characters
    :meth:`_Words.end` cannot compare itself."""
    return re.compile(r"\s+".join(re.escape(part) for part in parts), re.IGNORECASE)


class _Words:
    """A code (or one of our labels) found in text as ``_code_regex`` finds it, any case and
    any run of spaces between its words, without compiling a pattern for it."""

    __slots__ = ("head", "lowered", "parts", "size")

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.parts = parts
        self.lowered = tuple(p.lower() if p.isascii() else "" for p in parts)
        #: The length of its pattern: longest first, as the alternation was ordered.
        self.size = len(_code_regex(" ".join(parts)))
        head = parts[0] if parts else ""
        #: Its first word in lower case, when that is ASCII (else ""): the index's key.
        self.head = head.lower() if head.isascii() else ""

    def end(self, text: str, pos: int) -> int | None:
        """Where the words end when they start at ``pos`` in ``text``; None if they do not."""
        start = pos
        for i, part in enumerate(self.parts):
            if i:
                gap = _WS_RUN.match(text, pos)
                if gap is None:
                    return None
                pos = gap.end()
            stop = pos + len(part)
            seg = text[pos:stop]
            if seg != part:
                same = _same_letters(seg, part, self.lowered[i])
                if same is None:  # a pair of characters only the pattern can judge
                    hit = _words_pattern(self.parts).match(text, start)
                    return hit.end() if hit else None
                if not same:
                    return None
            pos = stop
        return pos


def _same_letters(seg: str, part: str, lowered: str) -> bool | None:
    """Whether ``seg`` matches ``part`` ignoring case: True, False, or None when a pair of
    characters that are not both ASCII differs and only the compiled pattern can tell."""
    if len(seg) != len(part):
        return False
    if lowered and seg.isascii():
        return seg.lower() == lowered
    unsure = False
    for s, p in zip(seg, part, strict=True):
        if s == p:
            continue
        if s.isascii() and p.isascii():
            if s.lower() != p.lower():
                return False
        else:
            unsure = True
    return None if unsure else True


@lru_cache(maxsize=4096)
def _words(text: str) -> _Words:
    return _Words(tuple(text.split()))


class _CodeIndex:
    """The sender's codes, longest pattern first, by their first word.

    Only the codes whose first word the text has at a place are tried there, so a line
    costs a few dictionary look-ups however many codes the sender has.
    """

    def __init__(self, codes: Iterable[str]) -> None:
        parts = {tuple(c.split()) for c in codes if c.strip()}
        self.all = tuple(sorted((_words(" ".join(p)) for p in parts), key=_by_size))
        by_head: dict[str, list[_Words]] = {}
        #: Codes whose first word is not ASCII (none in a real register), by first character.
        unusual: dict[str, list[_Words]] = {}
        for w in self.all:
            if w.head:
                by_head.setdefault(w.head, []).append(w)
            else:
                unusual.setdefault(w.parts[0][0], []).append(w)
        self.by_head = {head: tuple(found) for head, found in by_head.items()}
        self.lengths = sorted({len(head) for head in self.by_head}, reverse=True)
        self.unusual = {first: tuple(found) for first, found in unusual.items()}
        self._unusual_at: dict[str, tuple[_Words, ...]] = {}
        #: The ASCII characters a code may start with: its own first character in either
        #: case, and those an unusual first character matches (the long s matches s).
        starts = {c for head in self.by_head for c in (head[0], head[0].upper())}
        starts.update(a for a in _ASCII for f in self.unusual if _literal(f).fullmatch(a))
        self.ascii_starts = "".join(sorted(starts))

    def _unusual_for(self, ch: str) -> tuple[_Words, ...]:
        """The unusual codes whose first character matches ``ch``, asked of ``re``."""
        found = self._unusual_at.get(ch)
        if found is None:
            found = tuple(
                w for first, ws in self.unusual.items() if _literal(first).fullmatch(ch) for w in ws
            )
            self._unusual_at[ch] = found
        return found

    def candidates(self, text: str, pos: int) -> Sequence[_Words]:
        """The codes that may start at ``pos`` in ``text``, in an order that agrees with the
        alternation's wherever two of them match there.

        Two codes that match at one place are the same text or one starts the other; a
        code with a longer first word is then the longer one (the shorter is one word,
        ended inside the other's first word). So: longer first words first, and each
        word's codes longest pattern first; unusual codes merged in by length.
        """
        first = text[pos : pos + 1]
        if not first:
            return ()
        extra = self._unusual_for(first) if self.unusual else ()
        if not first.isascii() and not _ascii_twins(first):
            return extra  # no ASCII letter matches the character: no ASCII word starts here
        found: list[_Words] = []
        longest = text[pos : pos + self.lengths[0]] if self.lengths else ""
        lowered = longest.lower() if longest.isascii() else None
        for n in self.lengths:
            if n > len(longest):
                continue
            folded = lowered[:n] if lowered is not None else _fold(longest[:n])
            if folded is None:
                return self.all  # a character that is the twin of two ASCII letters
            hits = self.by_head.get(folded)
            if hits:
                found += hits
        if extra:
            return sorted([*found, *extra], key=_by_size)
        return found


def _fold(key: str) -> str | None:
    """The ASCII word, in lower case, that ``key`` matches ignoring case; "" when it matches
    none; None when it might match more than one."""
    if key.isascii():
        return key.lower()
    out = []
    for ch in key:
        if ch.isascii():
            out.append(ch.lower())
            continue
        twins = _ascii_twins(ch)
        if not twins:
            return ""
        if len(twins) > 1:
            return None
        out.extend(twins)
    return "".join(out)


def _by_size(words: _Words) -> tuple[int, tuple[str, ...]]:
    return -words.size, words.parts


class _StartMatch:
    """A line that starts with a code: the groups ``open``, ``code``, ``comment`` and ``rest``
    (and spans) that the single pattern's match object gave."""

    __slots__ = ("_line", "_spans")

    def __init__(self, line: str, spans: dict[str | int, tuple[int, int]]) -> None:
        self._line = line
        self._spans = spans

    def span(self, name: str | int = 0) -> tuple[int, int]:
        return self._spans[name]

    def group(self, name: str | int = 0) -> str | None:
        start, end = self._spans[name]
        return None if start < 0 else self._line[start:end]


class _LineStart:
    """``CODE`` or ``[CODE]`` at the start of a line (after a bullet), then the rest.

    Longest codes first, and a code must end where the text's code ends (``BV8a.1`` is not
    the start of ``BV8a.10``, ``BV8a`` not of ``BV8a.1``).
    """

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.index = _CodeIndex(codes)

    def match(self, line: str) -> _StartMatch | None:
        if not self.index.all:
            return None
        lead = _LEAD_WS.match(line)
        w = lead.end() if lead else 0
        bullet = _BULLET_MARK.match(line, w)
        after = bullet.end() if bullet else w
        opened = _OPEN_BRACKET.match(line, after)
        if opened:
            found = self._code_at(line, opened.end(), after)
            if found:
                return found
        if bullet:
            found = self._code_at(line, after, -1)
            if found:
                return found
        return self._code_at(line, w, -1)

    def _code_at(self, line: str, pos: int, open_at: int) -> _StartMatch | None:
        if pos >= len(line):
            return None
        rest_pattern = _CODE_REST_CLOSED if open_at >= 0 else _CODE_REST
        for words in self.index.candidates(line, pos):
            end = words.end(line, pos)
            if end is None:
                continue
            rest = rest_pattern.match(line, end)
            if rest is None:
                continue
            return _StartMatch(
                line,
                {
                    0: (0, rest.end()),
                    "open": (open_at, pos) if open_at >= 0 else (-1, -1),
                    "code": (pos, end),
                    "comment": rest.span("comment"),
                    "rest": rest.span("rest"),
                },
            )
        return None


@lru_cache(maxsize=256)
def _line_start_pattern(codes: tuple[str, ...]) -> _LineStart:
    """The line-start matcher for a set of codes (cheap to build; cached for repeat calls)."""
    return _LineStart(codes)


@dataclass(frozen=True)
class _Mention:
    """A code named in a line: ``group()`` and ``span()`` as the pattern's match gave them."""

    line: str
    start: int
    end: int

    def group(self) -> str:
        return self.line[self.start : self.end]

    def span(self) -> tuple[int, int]:
        return self.start, self.end


@lru_cache(maxsize=256)
def _mention_scanner(ascii_starts: str) -> re.Pattern[str]:
    """Places where one of the codes may start: where a code's first character is (few and
    the same from reply to reply, so this cache holds them), and any non-ASCII character."""
    chars = rf"|[{re.escape(ascii_starts)}]" if ascii_starts else ""
    return re.compile(rf"{_MENTION_LOOKBEHIND}(?:[^\x00-\x7f]{chars})")


class _Mentions:
    """Any of the codes anywhere in a line, as a whole code."""

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.index = _CodeIndex(codes)
        self.scanner = _mention_scanner(self.index.ascii_starts)

    def search(self, line: str) -> _Mention | None:
        if not self.index.all:
            return None
        for place in self.scanner.finditer(line):
            pos = place.start()
            for words in self.index.candidates(line, pos):
                end = words.end(line, pos)
                if end is not None and _CODE_END.match(line, end):
                    return _Mention(line, pos, end)
        return None


@lru_cache(maxsize=256)
def _mention_pattern(codes: tuple[str, ...]) -> _Mentions:
    """The mention finder for a set of codes (cheap to build; cached for repeat calls)."""
    return _Mentions(codes)


_SEPARATORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("colon", re.compile(r"\s*[:：=]\s*")),
    ("dash", re.compile(r"\s*[-–—]\s+")),
    ("tab", re.compile(r" *\t\s*")),
    ("space", re.compile(r"\s+")),
)


def _separated(rest: str) -> tuple[str, str] | None:
    """``(separator, answer)`` after a code: ``:`` or ``=``, `` - `` or `` – ``, a tab, a run
    of spaces; ``("none", "")`` when nothing follows; None when the code runs into other text
    (``BV8a.1's``)."""
    if not rest.strip():
        return "none", ""
    for name, pattern in _SEPARATORS:
        m = pattern.match(rest)
        if m:
            return name, rest[m.end() :].strip()
    return None


_AFTER_TITLE = re.compile(r"\s*(?:[:：=]|[-–—](?=\s)|\t)?\s*")


_CELL_GAP = re.compile(r" *\t\s*| {2,}")


def _without_title(answer: str, stems: Sequence[tuple[str, bool]]) -> str:
    """The answer without the item's title copied in front of it (a pasted spreadsheet row,
    ``CODE<TAB>title<TAB>value``, or ``CODE title: value``).

    A pasted row's cells are apart by a tab or a run of spaces (:func:`normalise_text` turns
    a tab into four spaces); a title we cut with "..." then need only start the first cell.
    """
    if not stems:
        return answer
    cells = _CELL_GAP.split(answer, maxsplit=1)
    if len(cells) == 2:
        first = _norm(cells[0])
        for stem, cut in stems:
            if first == stem or (cut and first.startswith(stem)):
                return cells[1].strip()
    for stem, cut in stems:
        if cut:
            continue
        # The stem at the start of the answer, as re.match(r"\s+".join(words), answer,
        # re.IGNORECASE) found it, with no pattern compiled per title (see _Words).
        title_end = _words(stem).end(answer, 0)
        if title_end is not None:
            after = _AFTER_TITLE.match(answer, title_end)
            end = after.end() if after else title_end
            if end == len(answer) or end > title_end:
                return answer[end:].strip()
    return answer


@dataclass(frozen=True)
class _Loose:
    code: str
    kind: Kind
    separator: str
    answer: str


_TAB_GAP = re.compile(r"\s*\t\s*")
_MINUS_FIGURE = re.compile(r"[-–\u2212]\d")


def _read_line_start(body: str, pattern: _LineStart, sent: _SentForm | None) -> _Loose | None:
    """One line of the grammar, or None when the line does not start with a code."""
    m = pattern.match(body)
    if m is None:
        return None
    separated = _separated(m.group("rest") or "")
    if separated is None:
        return None
    separator, answer = separated
    code = m.group("code") or ""
    kind: Kind = "comment" if m.group("comment") else "value"
    if kind == "value" and sent is not None:
        answer = _without_title(answer, sent.title_stems(code))
    if "\t" in answer:
        answer = _TAB_GAP.sub("  ", answer).strip()
    # "CODE -5": a minus sign only where the item takes negative figures. Where the form we
    # sent says it does not ("Allowed: 0 to ..."), the dash separates code and figure.
    if (
        kind == "value"
        and separator == "space"
        and _MINUS_FIGURE.match(answer)
        and sent is not None
        and code.casefold() in sent.no_negatives
    ):
        answer = answer[1:]
    return _Loose(code, kind, separator, answer)


# --------------------------------------------------------------------------------------------
# Tables pasted from a spreadsheet
# --------------------------------------------------------------------------------------------

_HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "code": ("code", "item", "item code", "ref", "reference", "component", "measure", "id"),
    "value": ("value", "figure", "answer", "actual", "result", "status", "data", "return"),
    "comment": ("comment", "comments", "note", "notes", "commentary", "remarks"),
}


_SPACE_RUN = re.compile(r" {2,}")
_CELL_START = re.compile(r"(?:(?<=^)|(?<=  ))\S")


def _cells(body: str) -> list[str]:
    """A table row's cells: split on tabs when there are any, else on runs of 2+ spaces."""
    if "\t" in body:
        return [c.strip() for c in body.split("\t")]
    return [c.strip() for c in _SPACE_RUN.split(body.strip())]


def _cell_starts(body: str) -> list[int]:
    """Where each cell of a space-aligned row starts."""
    return [m.start() for m in _CELL_START.finditer(body)]


#: How far a cell may start from its heading and still be under it.
_ALIGNMENT_SLACK = 2


def _row_cells(body: str, header: str) -> list[str]:
    """A row's cells in the header's columns. Tabs keep empty cells; in a space-aligned row
    an empty cell leaves no trace, so a row with fewer cells than the header puts each cell
    under the heading it starts at (give or take two characters), and when a cell starts
    under none, the cells are taken in order."""
    cells = _cells(body)
    if "\t" in body or len(cells) >= len(_cells(header)):
        return cells
    starts = _cell_starts(header)
    placed = [""] * len(starts)
    for start, cell in zip(_cell_starts(body), cells, strict=False):
        column = min(range(len(starts)), key=lambda k: abs(starts[k] - start))
        if placed[column] or abs(starts[column] - start) > _ALIGNMENT_SLACK:
            return cells  # not aligned under the headings after all
        placed[column] = cell
    return placed


def _header_columns(body: str) -> dict[str, int] | None:
    """Which column holds the code, the value and the comment, from a header row."""
    if "\t" not in body and "  " not in body.strip():
        return None
    columns: dict[str, int] = {}
    for i, cell in enumerate(_cells(body)):
        word = _norm(cell).rstrip(":")
        for name, words in _HEADER_WORDS.items():
            if word in words and name not in columns:
                columns[name] = i
    if "code" in columns and "value" in columns:
        return columns
    return None


# --------------------------------------------------------------------------------------------
# Greetings and sign-offs
# --------------------------------------------------------------------------------------------

_NAME = r"(?:[A-Z][A-Za-z'’.-]*(?:\s+[A-Z][A-Za-z'’.-]*){0,2})"
_GREETING = re.compile(
    r"(?i:hi|hello|hey|hiya|dear|morning|afternoon|good\s+(?:morning|afternoon|evening))"
    rf"(?:[\s,]+(?:{_NAME}|(?i:all|team|everyone|there|folks)))?\s*[,.!]*"
)
_SIGN_OFF = re.compile(
    r"(?i:(?:many\s+|kind\s+|best\s+|warm(?:est)?\s+|with\s+)?(?:thanks|thank\s+you|regards"
    r"|wishes)(?:\s+again)?|cheers|best|ta|thx|all\s+the\s+best|speak\s+soon"
    r"|yours\s+(?:sincerely|faithfully))"
    rf"(?:[\s,]+{_NAME})?\s*[,.!]*"
)
#: A signature after a sign-off: a few short lines (name, job, team, telephone).
_SIGNATURE_LINES = 8
_SIGNATURE_WIDTH = 72


# --------------------------------------------------------------------------------------------
# Reading a reply
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    code: str
    kind: Kind
    text: str
    source: Source
    line_no: int
    #: The whole line, when it only starts with the code and reads as no answer ("BV8a.1
    #: should be 1,240, sorry"): the item's value (rejected, with the reason) when nothing
    #: else answers the item, and, whole, its comment when something does.
    weak: str = ""
    #: Why nothing was read (``unread`` candidates).
    reason: str = ""


#: Notes kept per reply. A reply of thousands of form lines for codes we never sent would
#: otherwise make thousands of notes, each one checked against all the others (issue 12),
#: and a confirmation nobody could read; the rest are counted in one last note.
MAX_NOTES = 50


@dataclass
class _Reader:
    lines: list[str]
    roles: list[LineRole]
    sent: _SentForm | None
    known: dict[str, str]
    ambiguous_codes: set[str]
    form_lines: dict[int, FormLine]
    start_pattern: _LineStart = field(default_factory=lambda: _line_start_pattern(()))
    checkpoint: Checkpoint = _go_on
    loose_lines: set[int] = field(default_factory=set)
    candidates: list[_Candidate] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    noted: set[str] = field(default_factory=set)
    notes_left_out: int = 0

    def note(self, text: str) -> None:
        if text in self.noted:
            return
        self.noted.add(text)
        if len(self.ignored) < MAX_NOTES:
            self.ignored.append(text)
        else:
            self.notes_left_out += 1

    def all_notes(self) -> list[str]:
        if not self.notes_left_out:
            return self.ignored
        more = f"{self.notes_left_out} more note(s) like these were left out"
        return [*self.ignored, more]

    def unread(self, code: str, line: str, source: Source, line_no: int, reason: str) -> None:
        """A line that names ``code`` and gives no answer we could read (issue 13).

        For an item of the sender's it is a candidate of its own: when nothing else in the
        reply answers the item, it becomes a rejected line with ``reason`` (the sender sees
        the line and why, and the item stays outstanding); when something does, it is only
        a note. Any other code gets the note.
        """
        key = _code_key(code)
        if key in self.ambiguous_codes or key not in self.known:
            self.note(reason)
            return
        shown = line if len(line) <= 200 else line[:197] + "..."
        self.candidates.append(
            _Candidate(self.known[key], "unread", shown, source, line_no, reason=reason)
        )

    def canonical(self, code: str) -> str | None:
        cf = _code_key(code)
        if cf in self.ambiguous_codes:
            self.note(f"{code} matches more than one code on your form (letter case); not taken")
            return None
        if cf not in self.known:
            self.note(f"{code} is not on your form; not taken")
            return None
        return self.known[cf]

    def read(self, fl: FormLine) -> None:
        idx = fl.line_no - 1
        raw = self.lines[idx]
        in_new = self.roles[idx] == "new" and not fl.quoted
        item = self.sent.items.get((fl.code.casefold(), fl.kind)) if self.sent else None
        read = _read_against_sent(fl, raw, item)
        where = "at the top of your reply" if in_new else "in the quoted text"
        name = f"{fl.code} comment" if fl.kind == "comment" else fl.code
        source: Source
        if fl.quoted:
            source = "quoted-form"
        elif in_new and not read.matches_sent_label:
            source = "top"
        else:
            source = "form-in-place"
        if source == "top" and not fl.label and not read.unclear:
            # The one grammar for a line the sender typed: "[CODE] - 1234", a copied title.
            loose = _read_line_start(strip_quote_prefix(raw), self.start_pattern, self.sent)
            if loose is not None and loose.kind == fl.kind:
                read = _Read(loose.answer, matches_sent_label=False)

        if not in_new and self.roles[idx] != "replied-to":
            # An older message further down the thread: an earlier answer of the sender's
            # there would otherwise look like a fresh one.
            if read.answer and not (item is not None and _norm(read.answer) in item.answers):
                self.note(f"{name} in an older message further down the thread was not read")
            return
        if not in_new and (self.sent is None or item is None):
            # Not typed above the quote, and not a line of the form we know we sent.
            if read.answer:
                why = (
                    "we could not match your reply to the form we sent, so only lines typed "
                    "above the quoted text count"
                    if self.sent is None
                    else "it is not a line of the form we sent"
                )
                self.note(f"{name} {where} was not read: {why}")
            return
        if read.wrapped:
            self.unread(
                fl.code,
                strip_quote_prefix(raw).strip(),
                source,
                fl.line_no,
                f"{fl.code}: your mail program split the line, so we could not read an answer "
                "from it; please put the answer on the same line, after the colon",
            )
            self.skip_text_below(idx)
            return
        if read.unclear:
            self.unread(
                fl.code,
                strip_quote_prefix(raw).strip(),
                source,
                fl.line_no,
                f"{fl.code}: we could not tell which part of "
                f"'{strip_quote_prefix(raw).strip()}' is your answer; not taken",
            )
            self.skip_text_below(idx)
            return

        # Free text under a line counts only under a copy of a form item line ("[CODE] label:"
        # or "[CODE comment]:"), not under top lines such as "BV8a.1: 1234", where the next
        # line is as likely to be "Thanks, Sam" as a comment on that figure.
        bracketed = _BRACKETED.fullmatch(strip_quote_prefix(raw)) is not None
        is_item_line = bracketed and (
            bool(fl.label) or read.matches_sent_label or fl.kind == "comment"
        )
        answer = read.answer
        interleaved = is_item_line and item is not None and (fl.kind == "comment" or not answer)
        if interleaved:
            below_indices = self._interleaved_indices(idx)
        else:
            below_indices = self._below_indices(idx) if is_item_line else []
        value_indices: list[int] = []
        if (
            interleaved
            and fl.kind == "value"
            and below_indices
            and looks_like_answer(strip_quote_prefix(self.lines[below_indices[0]]))
        ):
            # Answered inline: the figure or status typed on its own line under our empty
            # form line (Apple Mail, Thunderbird, Outlook). Text after it is the comment.
            value_indices, below_indices = below_indices[:1], below_indices[1:]
            answer = strip_quote_prefix(self.lines[value_indices[0]]).strip()
        below = "\n".join(strip_quote_prefix(self.lines[j]).strip() for j in below_indices)
        if fl.kind == "comment" and below:
            answer = f"{answer}\n{below}" if answer else below
            below = ""
        untouched = item is not None and _norm(answer) in item.answers
        deleted = item is not None and not answer and bool(item.answers - {""})
        if untouched and answer:
            self.note(f"{name} {where} is unchanged from what we sent; not taken")
        if deleted:
            self.note(
                f"{name}: the answer we showed was deleted {where}; nothing was changed. "
                "To withdraw a figure, write n/a"
            )
        take = bool(answer) and not untouched
        if not take and not below:
            if source == "top" and fl.kind == "value" and not answer and not fl.label:
                self.unread(
                    fl.code,
                    strip_quote_prefix(raw).strip(),
                    source,
                    fl.line_no,
                    f"{fl.code}: the line names the code but gives no answer; nothing was "
                    f"stored for it. Write the answer after the code, e.g. {fl.code}: 1234",
                )
            return
        self.consumed.update(below_indices)
        self.consumed.update(value_indices)
        code = self.canonical(fl.code)
        if code is None:
            return
        if take and fl.kind == "value":
            weak = idx in self.loose_lines and not looks_like_answer(answer)
            line_text = strip_quote_prefix(raw).strip() if weak else ""
            self.add_value(code, answer, source, fl.line_no, line_text)
        elif take:
            self.candidates.append(_Candidate(code, fl.kind, answer, source, fl.line_no))
        if below:
            first = below_indices[0] + 1
            self.candidates.append(_Candidate(code, "comment", below, source, first))

    def add_value(
        self, code: str, text: str, source: Source, line_no: int, weak_line: str = ""
    ) -> None:
        """A value, with a trailing note ("2401 (provisional)") kept as the item's comment.

        ``weak_line``: the whole line, when it only starts with the code and reads as no
        answer (see :attr:`_Candidate.weak`)."""
        value, note = split_note(text)
        self.candidates.append(_Candidate(code, "value", value, source, line_no, weak_line))
        if note:
            self.candidates.append(_Candidate(code, "comment", note, source, line_no))

    def _interleaved_indices(self, idx: int) -> list[int]:
        """The sender's lines under a form line of ours, past blank lines and our own context
        lines ("Last period: ..."): up to the next blank line, quoted line or form line.

        Bounded by the next form line, so each line is looked at for one form line at most.
        The sender's lines are unquoted; in Outlook's unprefixed copy, they are the lines that
        are not ours.
        """
        assert self.sent is not None
        depth = quote_depth(self.lines[idx])
        j = idx + 1
        while j < len(self.lines):
            body = strip_quote_prefix(self.lines[j]).strip()
            if j in self.form_lines or quote_depth(self.lines[j]) > depth:
                return []
            if body and _norm(body) not in self.sent.context:
                break
            j += 1
        out = []
        while j < len(self.lines):
            line = self.lines[j]
            body = line.strip()
            if not body or j in self.form_lines or quote_depth(line) > 0:
                break
            if self.roles[j] == "other" or _norm(body) in self.sent.lines:
                break
            out.append(j)
            j += 1
        return out

    def _below_indices(self, idx: int) -> list[int]:
        """Lines directly under an item: until a blank line, a form line or a deeper quote."""
        depth = quote_depth(self.lines[idx])
        out = []
        for j in range(idx + 1, len(self.lines)):
            body = strip_quote_prefix(self.lines[j]).strip()
            if not body or j in self.form_lines or quote_depth(self.lines[j]) > depth:
                break
            if self.sent is not None and _norm(body) in self.sent.lines:
                continue  # our own context line ("Last period: ...")
            if self.roles[j] == "other" or (self.sent is None and self.roles[j] != "new"):
                break
            out.append(j)
        return out

    def skip_text_below(self, idx: int) -> None:
        self.consumed.update(self._below_indices(idx))


#: Answers quoted in one conflict note: enough to see the disagreement.
_MAX_LISTED = 5


def _resolve(candidates: Iterable[_Candidate], reader: _Reader) -> tuple[list[Answer], list[str]]:
    """One answer per code and kind: equal answers merge, different values conflict."""
    candidates = list(candidates)
    answered = {c.code for c in candidates if c.kind == "value" and not c.weak}
    valued = {c.code for c in candidates if c.kind == "value"}
    groups: dict[tuple[str, Kind], list[_Candidate]] = {}
    for c in candidates:
        if c.kind == "unread" and c.code in valued:
            reader.note(c.reason)  # the item is answered (or rejected) by another line
            continue
        if c.weak and c.code in answered:
            c = _Candidate(c.code, "comment", c.weak, c.source, c.line_no)
        groups.setdefault((c.code, c.kind), []).append(c)
    answers: list[Answer] = []
    conflicts: list[str] = []
    for (code, kind), group in groups.items():
        first = group[0]
        if kind == "unread":  # one rejected line per item: the first such line, its reason
            answers.append(
                Answer(code, kind, first.text, first.source, first.line_no, first.reason)
            )
            continue
        if kind == "comment":
            texts: list[str] = []
            seen: set[str] = set()
            for c in group:
                key = _norm(c.text)
                if key not in seen:
                    seen.add(key)
                    texts.append(c.text)
            answers.append(Answer(code, kind, "\n\n".join(texts), first.source, first.line_no))
            continue
        distinct = {value_key(c.text) for c in group}
        if len(distinct) > 1:
            given = "; ".join(f"'{c.text}' (line {c.line_no})" for c in group[:_MAX_LISTED])
            if len(group) > _MAX_LISTED:
                given += f" and {len(group) - _MAX_LISTED} more"
            conflicts.append(
                f"{code} was answered more than once with different answers: {given}. "
                "None was taken; please reply with one answer"
            )
            continue
        if len(group) > 1:
            reader.note(f"{code} was given {len(group)} times with the same answer; taken once")
        answers.append(Answer(code, kind, first.text, first.source, first.line_no))
    answers.sort(key=lambda a: (a.line_no, a.kind))
    return answers, conflicts


_BLANK_RUN = re.compile(r"\n{3,}")


def _signature_after(reader: _Reader, i: int) -> list[int]:
    """The lines after a sign-off that are its signature: the rest of that piece of the
    sender's text, when it is a few short lines (name, job, team, telephone)."""
    out: list[int] = []
    for j in range(i + 1, len(reader.lines)):
        if reader.roles[j] != "new" or j in reader.form_lines or j in reader.consumed:
            break
        line = reader.lines[j].strip()
        if line:
            out.append(j)
        if len(out) > _SIGNATURE_LINES or len(line) > _SIGNATURE_WIDTH:
            return []
    return out


def _general_comment(reader: _Reader, mentions: _Mentions) -> str:
    """The sender's new text that names no code of theirs and is no greeting or sign-off.

    A line that names one of the sender's item codes but was not read as an answer is left
    out, with a note: an answer must never hide in the general comment (issue 13).
    """
    keep: list[str] = []
    skip: set[int] = set()
    for i, line in enumerate(reader.lines):
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            reader.checkpoint()
        if reader.roles[i] != "new" or i in reader.form_lines or i in reader.consumed:
            keep.append("")
            continue
        stripped = line.strip()
        if i in skip or (reader.sent is not None and _norm(line) in reader.sent.lines):
            keep.append("")
            continue
        if _GREETING.fullmatch(stripped):
            keep.append("")
            continue
        if _SIGN_OFF.fullmatch(stripped):
            skip.update(_signature_after(reader, i))
            keep.append("")
            continue
        named = mentions.search(stripped)
        if named:
            shown = stripped if len(stripped) <= 80 else stripped[:77] + "..."
            reader.unread(
                named.group(),
                stripped,
                "top",
                i + 1,
                f"'{shown}' names {named.group()} but we could not read an answer from it, so "
                f"nothing was stored from that line. To answer, start a line with the code: "
                f"{named.group()}: 1234",
            )
            keep.append("")
            continue
        keep.append(line.rstrip())
    text = "\n".join(keep).strip("\n")
    # Kept lines are stripped at the right, so blank ones are empty: three or more line
    # breaks in a row become two. (The pattern this replaces, r"\n\s*\n(?:\s*\n)+", could
    # split one run of blank lines between its two quantifiers in many ways.)
    text = _BLANK_RUN.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _read_tables(reader: _Reader) -> None:
    """Blocks pasted from a spreadsheet: a header row naming a code and a value column (a
    comment column too, in any order, among other columns), then one row per item.

    Only the sender's unquoted new text. A row whose code cell is not one of the sender's
    codes ends the table; the rows read are answers, and the header and rows are no part of
    the general comment.
    """
    i = 0
    n = len(reader.lines)
    while i < n:
        line = reader.lines[i]
        if reader.roles[i] != "new" or quote_depth(line) > 0 or i in reader.form_lines:
            i += 1
            continue
        columns = _header_columns(line)
        if columns is None:
            i += 1
            continue
        j = i + 1
        while j < n and reader.roles[j] == "new" and reader.lines[j].strip():
            cells = _row_cells(reader.lines[j], line)
            code_cell = cells[columns["code"]] if columns["code"] < len(cells) else ""
            code_cell = code_cell.strip().strip("[]").strip()
            key = " ".join(code_cell.split()).casefold()
            if key not in reader.known:
                break
            code = reader.canonical(code_cell)
            value = cells[columns["value"]] if columns["value"] < len(cells) else ""
            note_col = columns.get("comment")
            note = cells[note_col] if note_col is not None and note_col < len(cells) else ""
            if code is not None and value:
                reader.add_value(code, value, "top", j + 1)
            if code is not None and note:
                reader.candidates.append(_Candidate(code, "comment", note, "top", j + 1))
            reader.form_lines.pop(j, None)
            reader.consumed.add(j)
            j += 1
        if j > i + 1:
            reader.consumed.add(i)
        i = j


def _read_grammar_lines(reader: _Reader) -> None:
    """Lines of the sender's new text that start with one of their codes and are no strict
    form line (``CODE - 1234``, ``CODE 1234``, ``CODE<TAB>title<TAB>1234``): form lines too."""
    for i, line in enumerate(reader.lines):
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            reader.checkpoint()
        if i in reader.form_lines or i in reader.consumed or reader.roles[i] != "new":
            continue
        if quote_depth(line) > 0 or (reader.sent is not None and _norm(line) in reader.sent.lines):
            continue
        loose = _read_line_start(line, reader.start_pattern, reader.sent)
        if loose is not None:
            reader.form_lines[i] = FormLine(loose.code, "", loose.answer, i + 1, False, loose.kind)
            if loose.separator != "colon":
                reader.loose_lines.add(i)


def _code_key(code: str) -> str:
    """Codes compare ignoring case and the width of their spaces."""
    return " ".join(code.split()).casefold()


def _known_codes(codes: Collection[str]) -> tuple[dict[str, str], set[str]]:
    known: dict[str, str] = {}
    ambiguous: set[str] = set()
    for code in codes:
        cf = _code_key(code)
        if cf in known and known[cf] != code:
            ambiguous.add(cf)
        known[cf] = code
    return known, ambiguous


def read_reply(
    reply_text: str,
    sent_form_text: str | Sequence[str] | None,
    known_codes: Collection[str],
    checkpoint: Checkpoint = _go_on,
) -> FormReading:
    """Read the answers, comments and general comment from a reply's plain text.

    ``sent_form_text`` is the exact text/plain we sent (the request or a confirmation), a
    sequence of such texts (everything we sent about the request), or None when unknown.
    ``known_codes`` are the codes on this sender's form. ``checkpoint`` is called now and then
    (see :data:`mailcapture.parsing.quotes.Checkpoint`); the work is linear in the text.
    """
    text = normalise_text(reply_text)
    lines = text.split("\n")
    roles = line_roles(text, checkpoint)
    form_lines = {fl.line_no - 1: fl for fl in _form_lines(lines, checkpoint)}
    known, ambiguous = _known_codes(known_codes)
    if sent_form_text is None:
        sent = None
    elif isinstance(sent_form_text, str):
        sent = _SentForm.from_text(sent_form_text)
    else:
        sent = _SentForm.from_texts(sent_form_text)
    # Loose lines are read for the sender's item codes only: with the form we sent, those
    # with a value line on it (an indicator's code names only its comment line).
    item_codes = tuple(
        c for c in known_codes if sent is None or (c.casefold(), "value") in sent.items
    )
    reader = _Reader(
        lines,
        roles,
        sent,
        known,
        ambiguous,
        form_lines,
        start_pattern=_line_start_pattern(tuple(known_codes)),
        checkpoint=checkpoint,
    )
    _read_tables(reader)
    reader.start_pattern = _line_start_pattern(item_codes)
    _read_grammar_lines(reader)
    reader.start_pattern = _line_start_pattern(tuple(known_codes))
    for n, idx in enumerate(sorted(form_lines)):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            checkpoint()
        reader.read(form_lines[idx])
    # The general comment first: a line in it that names an item is an unread answer.
    general_comment = _general_comment(reader, _mention_pattern(item_codes))
    answers, conflicts = _resolve(reader.candidates, reader)
    checkpoint()
    return FormReading(
        answers=answers,
        general_comment=general_comment,
        ignored=reader.all_notes(),
        conflicts=conflicts,
    )
