"""Read an owner's or head of service's answer to a report: sign-off, query, commentary.

The owner report's text part lists each item awaiting sign-off and offers three lines per
item (the department report offers ``[ENV comment]:`` for the department)::

    [BV8a] Invoices paid within 30 days: 97.5 % (target 97 %), green, improving - provisional
    [BV8a approve]:
    [BV8a query]:
    [BV8a comment]:

What counts, and why (each rule keeps a sign-off from being recorded that the owner did not
clearly give):

* A ``[CODE approve]`` line in the sender's *new* text approves, with or without a colon and
  a word such as yes / x / ok after it. A word that is not clearly yes ("no", "not yet",
  "?") is not an approval; a note says how to send the figure back instead.
* In the quoted copy of the report (Outlook leaves it unprefixed and people type into it;
  Gmail prefixes it with ``> ``) a line counts only if its text after the colon differs from
  what we sent, as in :mod:`mailcapture.parsing.form`: an untouched copy is never an answer.
  When we do not know what we sent, only the sender's new text counts.
* ``[CODE query]: reason`` sends the figure back to the updater. A query with no reason is
  refused with a note: the updater needs to know what is wrong.
* ``[CODE comment]: text`` is commentary; lines directly under it (until a blank line or
  another bracketed line) continue it, and a query's reason likewise.
* A plain "approved" / "approve all" / "all approved" / "I approve these" as the whole new
  text (greetings, thanks and a name aside) approves everything awaiting sign-off in the
  report. With anything else meaningful beside it, it is not taken, and a note says why.
* Approve and query of the same code in one reply is a conflict: neither is taken.
* A code the report did not list is ignored with a note; codes match ignoring case.
* Only the message being replied to is read (not older messages further down a thread).
* ``[CODE choose]: FIGURE`` is the owner's choice between differing figures sent for a
  component (``mailflow.value_choices`` asks with such a line and reads the answer with this
  reader); a report lists no ``choose`` line, so in a report it is a code not listed.

Pure: no database, no clock. The caller decides who may approve what.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mailcapture.parsing.quotes import (
    LineRole,
    line_roles,
    normalise_text,
    quote_depth,
    strip_quote_prefix,
)

__all__ = ["ReportAnswer", "ReportReading", "listed_codes", "read_report_reply"]

Verb = Literal["approve", "query", "comment", "choose"]
Source = Literal["top", "in-place", "quoted"]

_VERBS: dict[str, Verb] = {
    "approve": "approve",
    "approved": "approve",
    "approval": "approve",
    "signoff": "approve",
    "query": "query",
    "queried": "query",
    "comment": "comment",
    "comments": "comment",
    "commentary": "comment",
    "note": "comment",
    "notes": "comment",
    "choose": "choose",
    "chosen": "choose",
    "choice": "choose",
}
_VERB_RE = "|".join(sorted(_VERBS, key=len, reverse=True))
_BULLET = r"(?:[-*•]\s+)?"
_ANSWER_LINE = re.compile(
    rf"\s*{_BULLET}\[\s*(?P<code>[^\]]+?)\s+(?P<verb>{_VERB_RE})\s*\]\s*(?P<colon>[:：])?\s*"
    r"(?P<rest>.*)",
    re.IGNORECASE,
)
#: "BV8a approve", "BV8a query: reason" typed without brackets, in the new text only.
_BARE_LINE = re.compile(
    rf"\s*{_BULLET}(?P<code>[A-Za-z0-9][A-Za-z0-9. _-]*?)\s+(?P<verb>{_VERB_RE})\s*"
    r"(?:[:：=]\s*(?P<rest>.*))?",
    re.IGNORECASE,
)
#: Any "[...]" line: ends a comment's continuation (the next item, its info line).
_ANY_BRACKET_LINE = re.compile(r"\s*(?:[-*•]\s+)?\[[^\]]+\]")

_YES = {
    "yes", "y", "x", "ok", "okay", "approve", "approved", "agree", "agreed", "confirmed",
    "done", "signed off", "sign off", "tick", "ticked", "true", "✓", "✔", "☑", "✅", "√",
    "yes approved", "ok approved", "fine", "correct",
}  # fmt: skip
_NO = re.compile(r"(?:no|n|not\b.*|don'?t\b.*|do not\b.*|reject.*|hold.*|wait.*|query.*)")

_APPROVE_ALL = re.compile(
    r"(?:(?:ok|okay|yes|fine|all good)\s+)?"
    r"(?:(?:i|we)\s+(?:have\s+|hereby\s+)?)?"
    r"(?:approved?|agreed?|signed\s+off|sign\s+off|approve\s+and\s+sign\s+off)"
    r"(?:\s+(?:all|these|them|everything|the\s+lot|all\s+of\s+them|all\s+of\s+these|"
    r"all\s+items|all\s+(?:the\s+)?figures|these\s+figures|as\s+shown|in\s+full))?"
    r"|all\s+(?:approved|agreed|signed\s+off)"
)
_COURTESY = re.compile(
    r"(?:hi|hello|dear|morning|good\s+morning|good\s+afternoon)\b.{0,40}"
    r"|(?:many\s+|with\s+)?thanks?\b.{0,40}|thank\s+you\b.{0,40}|cheers\b.{0,20}"
    r"|(?:kind\s+|best\s+|warm\s+)?regards\b.{0,40}|best(?:\s+wishes)?\b.{0,40}|ta",
)
_NAME = re.compile(r"[A-Z][a-z'-]*\.?(?:\s+[A-Z][a-z'-]*\.?){0,3}")
#: Words that turn a short line into something more than a greeting or a name.
_MEANINGFUL = re.compile(
    r"\b(?:not?|don'?t|except|but|wrong|query|queried|hold|wait|unless|apart|check)\b", re.I
)
_MAX_APPROVE_ALL_TEXT = 300


@dataclass(frozen=True)
class ReportAnswer:
    """One answer: an approval, a query (``text`` is the reason) or a comment."""

    code: str
    verb: Verb
    text: str
    source: Source
    line_no: int


@dataclass(frozen=True)
class ReportReading:
    """What a reply to a report says; ``notes`` explain everything not taken."""

    answers: list[ReportAnswer]
    #: A plain "approved" as the whole new text: approve everything awaiting sign-off.
    approve_all: bool
    #: The sender's new text that was none of the above (greetings and thanks included).
    other_text: str
    notes: list[str] = field(default_factory=list)

    def of(self, verb: Verb) -> list[ReportAnswer]:
        return [a for a in self.answers if a.verb == verb]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass(frozen=True)
class _Line:
    code: str
    verb: Verb
    rest: str
    bracketed: bool


def _parse_line(body: str) -> _Line | None:
    m = _ANSWER_LINE.fullmatch(body)
    if m:
        verb = _VERBS[m.group("verb").casefold()]
        return _Line(m.group("code").strip(), verb, m.group("rest").strip(), True)
    return None


def _parse_bare(body: str) -> _Line | None:
    m = _BARE_LINE.fullmatch(body)
    if m:
        verb = _VERBS[m.group("verb").casefold()]
        return _Line(m.group("code").strip(), verb, (m.group("rest") or "").strip(), False)
    return None


@dataclass
class _Sent:
    """What we sent: the answer each (code, verb) line carried, and every line's text."""

    answers: dict[tuple[str, Verb], set[str]]
    lines: set[str]

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> _Sent:
        answers: dict[tuple[str, Verb], set[str]] = {}
        lines: set[str] = set()
        for text in texts:
            for raw in normalise_text(text).split("\n"):
                body = strip_quote_prefix(raw)
                if _norm(body):
                    lines.add(_norm(body))
                parsed = _parse_line(body)
                if parsed is not None:
                    key = (parsed.code.casefold(), parsed.verb)
                    answers.setdefault(key, set()).add(_norm(parsed.rest))
        return cls(answers, lines)


def listed_codes(sent_text: str) -> set[str]:
    """The codes a report offered answer lines for (``[CODE approve]:``, ``[CODE comment]:``),
    as written: what the reader may answer on it."""
    return {parsed.code for parsed in _answer_lines(sent_text)}


def _answer_lines(text: str) -> list[_Line]:
    lines = (_parse_line(strip_quote_prefix(raw)) for raw in normalise_text(text).split("\n"))
    return [line for line in lines if line is not None]


def _is_yes(text: str) -> bool:
    t = _norm(text).strip(" .!")
    return t in _YES


def _approve_all_phrase(line: str) -> tuple[bool, bool]:
    """(says "approved", says something else) for one line of the sender's other text.

    Greetings, thanks and a short name say nothing else; anything more does.
    """
    segments = [s.strip() for s in re.split(r"[,;:]|\s[-–—]\s|[.!]+(?:\s|$)", line)]
    found = other = False
    for segment in (s for s in segments if s.strip(" .!")):
        normal = _norm(segment).strip(" .!")
        if _APPROVE_ALL.fullmatch(normal):
            found = True
        elif _MEANINGFUL.search(normal) or not (
            _COURTESY.fullmatch(normal) or (len(segment) <= 40 and _NAME.fullmatch(segment))
        ):
            other = True
    return found, other


@dataclass
class _Reader:
    lines: list[str]
    roles: list[LineRole]
    sent: _Sent | None
    known: dict[str, str]
    found: list[ReportAnswer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    answer_lines_in_new: int = 0

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def continuation(self, idx: int) -> list[int]:
        """Lines under a comment or query line: same quoting, until a blank or [...] line."""
        depth = quote_depth(self.lines[idx])
        role = self.roles[idx]
        out: list[int] = []
        for j in range(idx + 1, len(self.lines)):
            body = strip_quote_prefix(self.lines[j]).strip()
            if not body or quote_depth(self.lines[j]) != depth or self.roles[j] != role:
                break
            if _ANY_BRACKET_LINE.match(body) or self._known(body):
                break
            if self.sent is not None and _norm(body) in self.sent.lines:
                continue  # our own text under the line
            out.append(j)
        return out

    def in_copy(self, idx: int) -> bool:
        """An empty line of ours next to other untouched lines of ours (not approve lines):
        a copy of the report in the new text (a client that quoted without marking it),
        never an answer."""
        if self.sent is None or _norm(strip_quote_prefix(self.lines[idx])) not in self.sent.lines:
            return False
        for j in (idx - 1, idx + 1):
            if 0 <= j < len(self.lines) and self.roles[j] == self.roles[idx]:
                body = strip_quote_prefix(self.lines[j])
                parsed = _parse_line(body)
                if _norm(body) in self.sent.lines and (parsed is None or parsed.verb != "approve"):
                    return True
        return False

    def _known(self, body: str) -> bool:
        parsed = _parse_bare(body)
        return parsed is not None and parsed.code.casefold() in self.known

    def read_line(self, idx: int) -> None:
        raw = self.lines[idx]
        role = self.roles[idx]
        body = strip_quote_prefix(raw)
        quoted = quote_depth(raw) > 0
        in_new = role == "new" and not quoted
        parsed = _parse_line(body)
        if parsed is None and in_new:
            bare = _parse_bare(body)
            if bare is not None and bare.code.casefold() in self.known:
                parsed = bare
        if parsed is None:
            return
        self.consumed.add(idx)
        name = f"[{parsed.code} {parsed.verb}]"
        if role == "other":
            if parsed.rest:
                self.note(f"{name} in an older message further down the thread was not read")
            return
        below = self.continuation(idx) if parsed.verb != "approve" else []
        self.consumed.update(below)
        text = "\n".join(
            [parsed.rest] * bool(parsed.rest)
            + [strip_quote_prefix(self.lines[j]).strip() for j in below]
        ).strip()
        key = (parsed.code.casefold(), parsed.verb)
        if not in_new:
            if self.sent is None or key not in self.sent.answers:
                if text:
                    why = (
                        "we could not match your reply to the report we sent, so only lines "
                        "typed above the quoted text count"
                        if self.sent is None
                        else "it is not a line of the report we sent"
                    )
                    self.note(f"{name} in the quoted text was not read: {why}")
                return
            if _norm(text) in self.sent.answers[key]:
                return  # the untouched copy of our own line
        else:
            self.answer_lines_in_new += 1
        code = self.known.get(parsed.code.casefold())
        if code is None:
            if text or in_new:
                self.note(f"{parsed.code} is not in this report; {name} was not taken")
            return
        source: Source = "top" if in_new else ("quoted" if quoted else "in-place")
        if parsed.verb == "approve":
            if in_new and not text and self.in_copy(idx):
                return
            if (in_new and not text) or _is_yes(text):
                self.found.append(ReportAnswer(code, "approve", text, source, idx + 1))
            elif _NO.fullmatch(_norm(text).strip(" .!")):
                self.note(
                    f"{name}: '{text}' is not an approval, so nothing was recorded. To send "
                    f"the figure back to the updater, write the reason on [{code} query]:"
                )
            else:
                self.note(
                    f"{name}: we could not tell whether '{text}' means yes, so nothing was "
                    f"recorded. To approve, write yes after the colon"
                )
            return
        if not text:
            if parsed.verb == "query" and not self.in_copy(idx):
                self.note(
                    f"{name} has no reason, so the figure was not sent back: the updater "
                    f"needs to know what is wrong. Write the reason after the colon"
                )
            return
        self.found.append(ReportAnswer(code, parsed.verb, text, source, idx + 1))


def _resolve(reader: _Reader) -> list[ReportAnswer]:
    """One answer per code and verb; approve and query of the same code cancel out."""
    groups: dict[tuple[str, Verb], list[ReportAnswer]] = {}
    for answer in reader.found:
        groups.setdefault((answer.code, answer.verb), []).append(answer)
    conflicted = {code for code, verb in groups if verb == "approve" and (code, "query") in groups}
    for code in sorted(conflicted):
        reader.note(
            f"{code} was both approved and queried in this reply, so neither was taken: "
            f"please reply again with one of them"
        )
    out: list[ReportAnswer] = []
    for (code, verb), group in groups.items():
        if code in conflicted and verb in ("approve", "query"):
            continue
        first = group[0]
        if verb == "approve":
            out.append(first)
            continue
        texts: list[str] = []
        for answer in group:
            if _norm(answer.text) not in {_norm(t) for t in texts}:
                texts.append(answer.text)
        out.append(ReportAnswer(code, verb, "\n\n".join(texts), first.source, first.line_no))
    out.sort(key=lambda a: (a.line_no, a.verb))
    return out


def _other_text(reader: _Reader) -> list[str]:
    keep = []
    for i, line in enumerate(reader.lines):
        if reader.roles[i] != "new" or i in reader.consumed:
            continue
        body = line.strip()
        if not body or (reader.sent is not None and _norm(body) in reader.sent.lines):
            continue
        keep.append(body)
    return keep


def read_report_reply(
    reply_text: str, sent_texts: str | Sequence[str] | None, known_codes: Collection[str]
) -> ReportReading:
    """Read sign-offs, queries and commentary from a reply to a report.

    ``sent_texts``: the exact text/plain of the report (and anything else we sent about
    it), or None when unknown. ``known_codes``: the codes the report listed for this reader
    (indicators, milestones, the department).
    """
    text = normalise_text(reply_text)
    lines = text.split("\n")
    roles = line_roles(text)
    if sent_texts is None:
        sent = None
    else:
        sent = _Sent.from_texts([sent_texts] if isinstance(sent_texts, str) else sent_texts)
    known = {c.casefold(): c for c in known_codes}
    reader = _Reader(lines, roles, sent, known)
    for idx in range(len(lines)):
        if idx not in reader.consumed:
            reader.read_line(idx)
    answers = _resolve(reader)
    other = _other_text(reader)
    approve_all = False
    verdicts = [_approve_all_phrase(line) for line in other]
    if any(found for found, _ in verdicts):
        size = sum(len(line) for line in other)
        if reader.answer_lines_in_new:
            reader.note(
                "'approved' was not taken as approving everything, because your reply also "
                "answers single items: write [CODE approve] for each item you approve"
            )
        elif any(more for _, more in verdicts) or size > _MAX_APPROVE_ALL_TEXT:
            reader.note(
                "'approved' was not taken as approving everything, because your reply says "
                "more than that: write [CODE approve] for each item you approve"
            )
        else:
            approve_all = True
    return ReportReading(
        answers=answers,
        approve_all=approve_all,
        other_text="\n".join(other),
        notes=reader.notes,
    )
