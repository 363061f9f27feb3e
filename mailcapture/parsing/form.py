"""Read answers out of a reply: form lines, commentary and the general comment.

People answer our request form in three ways: by typing after the colon of a form line (often
in the *quoted* copy of our message: Outlook leaves that copy unprefixed, Gmail prefixes it
with ``> ``), by writing lines such as ``BV8a.1: 1234`` at the top, and by writing free text
(a general comment above the form, commentary under an item or on ``[CODE comment]:`` lines).

The danger is reading our own text back as an answer. So, when we know the exact text we sent
(``sent_form_text``), a form line counts only if its answer differs from what that line said
when we sent it (normally nothing after the colon; for a confirmation, the figure we showed).
An untouched copy is never an answer. When we do not know what we sent, only unquoted lines in
the sender's new text count.

Decisions (each keeps a wrong figure from being stored silently):

* No precedence between places: when the same code is answered in two places with different
  answers (say a top line and the quoted form), that is a *conflict*, reported, and neither is
  taken. The same answer twice is taken once.
* Answers are not joined across lines. A mailer that wraps a form line so that the answer lands
  on the next line leaves nothing readable on the item line; we note it rather than guess. Free
  text directly under an item line is that item's comment, never its value; when such text
  looks like a bare figure under an empty item line, a note says so.
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
  an item and not a copy of our own text; it may stand above or below the top-posted lines
  (a sign-off below them is kept rather than lost). Mobile and "-- " signatures and legal
  disclaimers were already cut by :func:`mailcapture.parsing.quotes.split_reply`'s rules.
* Line numbers are 1-based, in the ``\\n``-normalised text.
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

__all__ = ["Answer", "FormLine", "FormReading", "find_form_lines", "read_reply"]

Kind = Literal["value", "comment"]
Source = Literal["top", "form-in-place", "quoted-form"]


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
    lines = normalise_text(text).split("\n")
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


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _value_key(text: str) -> str:
    """Two spellings of the same answer compare equal: 1,234 / 1234 / '1234.'."""
    t = _norm(text).rstrip(".")
    return re.sub(r"(?<=\d)[, ](?=\d{3}\b)", "", t)


@dataclass
class _SentItem:
    label: str
    answers: set[str]


@dataclass
class _SentForm:
    items: dict[tuple[str, Kind], _SentItem]
    lines: set[str]

    @classmethod
    def from_text(cls, text: str) -> _SentForm:
        items: dict[tuple[str, Kind], _SentItem] = {}
        for fl in find_form_lines(text):
            item = items.setdefault((fl.code.casefold(), fl.kind), _SentItem(fl.label, set()))
            item.answers.add(_norm(fl.answer))
        lines = {_norm(strip_quote_prefix(line)) for line in normalise_text(text).split("\n")} - {
            ""
        }
        return cls(items, lines)

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
        for text in texts:
            one = _parsed_sent(text)
            for key, sent in one.items.items():
                item = items.setdefault(key, _SentItem(sent.label, set()))
                item.answers |= sent.answers
            lines |= one.lines
        return cls(items, lines)


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


def _read_against_sent(fl: FormLine, raw: str, item: _SentItem | None) -> _Read:
    """The answer on a form line, using the label we sent to find where the answer starts.

    Knowing our label copes with a colon inside it, with a deleted colon ("[X] Label 1234")
    and with a line the mailer wrapped (only the start of our label is left on it).
    """
    if item is None or not item.label:
        return _Read(fl.answer, matches_sent_label=False)
    m = _BRACKETED.fullmatch(strip_quote_prefix(raw))
    rest = m.group("rest") if m else ""
    words = r"\s+".join(re.escape(w) for w in item.label.split())
    hit = re.fullmatch(rf"\s*{words}\s*(?:[:：]\s*(?P<answer>.*))?", rest, re.IGNORECASE)
    if hit:
        return _Read((hit.group("answer") or "").strip(), matches_sent_label=True)
    hit = re.fullmatch(rf"\s*{words}\s+(?P<after>[^:：]+)", rest, re.IGNORECASE)
    if hit:
        return _Read(hit.group("after").strip(), matches_sent_label=True)
    if rest.strip() and _norm(item.label).startswith(_norm(rest)):
        return _Read("", matches_sent_label=True, wrapped=True)
    # A label we did not send with a figure in it ("[X] was 1,480: 1,234"): unclear.
    unclear = bool(fl.label) and any(ch.isdigit() for ch in fl.label)
    return _Read(fl.answer, matches_sent_label=False, unclear=unclear)


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

    def canonical(self, code: str) -> str | None:
        cf = code.casefold()
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
            self.note(
                f"{fl.code}: your mail program split the line, so we could not read an answer "
                "from it; please put the answer on the same line, after the colon"
            )
            self.skip_text_below(idx)
            return
        if read.unclear:
            self.note(
                f"{fl.code}: we could not tell which part of "
                f"'{strip_quote_prefix(raw).strip()}' is your answer; not taken"
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
        below_indices = self._below_indices(idx) if is_item_line else []
        below = "\n".join(strip_quote_prefix(self.lines[j]).strip() for j in below_indices)
        answer = read.answer
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
            return
        self.consumed.update(below_indices)
        code = self.canonical(fl.code)
        if code is None:
            return
        if take:
            self.candidates.append(_Candidate(code, fl.kind, answer, source, fl.line_no))
        if below:
            first = below_indices[0] + 1
            self.candidates.append(_Candidate(code, "comment", below, source, first))
            if fl.kind == "value" and not answer and re.fullmatch(r"[\d.,£%\s-]+", below):
                self.note(
                    f"{code}: the answer after the colon was empty and the line below reads "
                    f"'{below}'; we took that as a comment, not as the figure. Please put the "
                    "figure after the colon"
                )

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
    groups: dict[tuple[str, Kind], list[_Candidate]] = {}
    for c in candidates:
        groups.setdefault((c.code, c.kind), []).append(c)
    answers: list[Answer] = []
    conflicts: list[str] = []
    for (code, kind), group in groups.items():
        first = group[0]
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
        distinct = {_value_key(c.text) for c in group}
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


def _general_comment(reader: _Reader) -> str:
    keep: list[str] = []
    for i, line in enumerate(reader.lines):
        if reader.roles[i] != "new" or i in reader.form_lines or i in reader.consumed:
            keep.append("")
            continue
        if reader.sent is not None and _norm(line) in reader.sent.lines:
            keep.append("")
            continue
        keep.append(line.rstrip())
    text = "\n".join(keep).strip("\n")
    # Kept lines are stripped at the right, so blank ones are empty: three or more line
    # breaks in a row become two. (The pattern this replaces, r"\n\s*\n(?:\s*\n)+", could
    # split one run of blank lines between its two quantifiers in many ways.)
    text = _BLANK_RUN.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _known_codes(codes: Collection[str]) -> tuple[dict[str, str], set[str]]:
    known: dict[str, str] = {}
    ambiguous: set[str] = set()
    for code in codes:
        cf = code.casefold()
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
    form_lines = {fl.line_no - 1: fl for fl in find_form_lines(text, checkpoint)}
    known, ambiguous = _known_codes(known_codes)
    if sent_form_text is None:
        sent = None
    elif isinstance(sent_form_text, str):
        sent = _SentForm.from_text(sent_form_text)
    else:
        sent = _SentForm.from_texts(sent_form_text)
    reader = _Reader(lines, roles, sent, known, ambiguous, form_lines)
    for n, idx in enumerate(sorted(form_lines)):
        if n % CHECK_EVERY == CHECK_EVERY - 1:
            checkpoint()
        reader.read(form_lines[idx])
    answers, conflicts = _resolve(reader.candidates, reader)
    checkpoint()
    return FormReading(
        answers=answers,
        general_comment=_general_comment(reader),
        ignored=reader.all_notes(),
        conflicts=conflicts,
    )
