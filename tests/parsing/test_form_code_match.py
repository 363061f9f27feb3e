"""The code and label matchers of form.py against the compiled patterns they replaced.

read_reply used to compile, per reply, one alternation of the sender's codes for the start
of a line and one for a code named anywhere in a line, and a pattern per label of ours.
Every updater has codes of their own, so those compilations were most of the cost of
reading a reply; form.py now compiles only the fixed parts, once. The old builders are kept
here, privately, and both are run over every line of the test corpus and over generated
lines meant to break them (codes that start other codes, spaces and dots inside codes,
brackets opened and not closed, bullets, tabs, letter case, non-ASCII look-alikes), for
several sets of codes: the matches, their groups and spans must be identical.

The replacement rests on a few facts about ``re`` with IGNORECASE; the last tests check
them, so that a Python whose ``re`` changes fails here rather than misreading replies.
"""

from __future__ import annotations

import importlib
import random
import re
import sys
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import pytest

from mailcapture.parsing import form
from mailcapture.parsing.mime import MessageTooLarge, MimeTooDeep, decode_message
from mailcapture.parsing.quotes import normalise_text, strip_quote_prefix

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# --------------------------------------------------------------------------------------------
# The old pattern builders, as form.py had them
# --------------------------------------------------------------------------------------------

_BULLET = r"(?:[-*•]\s+)?"
_COMMENT_WORD = r"(?:comments?|notes?|commentary)"


def _code_regex(code: str) -> str:
    return r"\s+".join(re.escape(part) for part in code.split())


@lru_cache(maxsize=64)
def old_line_start_pattern(codes: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({_code_regex(c) for c in codes if c.strip()}, key=len, reverse=True)
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile(
        rf"\s*{_BULLET}(?P<open>\[\s*)?(?P<code>{'|'.join(alternatives)})"
        r"(?![A-Za-z0-9]|\.[A-Za-z0-9])"
        rf"(?:\s+(?P<comment>{_COMMENT_WORD})(?![A-Za-z0-9]))?(?(open)\s*\])(?P<rest>.*)",
        re.IGNORECASE,
    )


@lru_cache(maxsize=64)
def old_mention_pattern(codes: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({_code_regex(c) for c in codes if c.strip()}, key=len, reverse=True)
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile(
        rf"(?<![A-Za-z0-9.])(?:{'|'.join(alternatives)})(?![A-Za-z0-9]|\.[A-Za-z0-9])",
        re.IGNORECASE,
    )


def old_label_hits(label: str, rest: str) -> tuple[str | None, str | None] | None:
    """What the old _read_against_sent read with its two label patterns."""
    words = r"\s+".join(re.escape(w) for w in label.split())
    hit = re.fullmatch(rf"\s*{words}\s*(?:[:：]\s*(?P<answer>.*))?", rest, re.IGNORECASE)
    if hit:
        return "answer", hit.group("answer")
    hit = re.fullmatch(rf"\s*{words}\s+(?P<after>[^:：]+)", rest, re.IGNORECASE)
    if hit:
        return "after", hit.group("after")
    return None


def new_label_hits(label: str, rest: str) -> tuple[str | None, str | None] | None:
    """The same, the way form._read_against_sent now reads it."""
    lead = form._LEAD_WS.match(rest)
    end = form._words(label).end(rest, lead.end() if lead else 0)
    if end is None:
        return None
    hit = form._LABEL_THEN_ANSWER.fullmatch(rest, end)
    if hit:
        return "answer", hit.group("answer")
    hit = form._LABEL_THEN_TEXT.fullmatch(rest, end)
    if hit:
        return "after", hit.group("after")
    return None


def old_title_end(stem: str, answer: str) -> int | None:
    """Where the old _without_title found the title at the start of an answer."""
    words = r"\s+".join(re.escape(w) for w in stem.split())
    m = re.match(words, answer, re.IGNORECASE)
    return m.end() if m else None


# --------------------------------------------------------------------------------------------
# Sets of codes and lines
# --------------------------------------------------------------------------------------------

CODE_SETS: list[tuple[str, ...]] = [
    ("BV8a.1", "BV8a.2", "P07.M0"),
    # Codes that start other codes, at a dot, a digit or a letter; case variants.
    ("BV8a", "BV8a.1", "BV8a.10", "bv8a.1", "BV8a.1a", "BV8", "B", "BV8a.1.2"),
    ("SYN0042.1", "SYN0042.2", "SYN0042.3", "SYN0042.4", "SYN0042.5", "SYN0042", "S42"),
    # Codes with spaces (any run of spaces matches), and spaces that start other codes.
    ("NI 192", "NI 192.1", "NI  192 a", "NI", "ni 19", "A B C", "A B", "A"),
    # Codes that start with a bullet's or a bracket's character, or hold regex syntax.
    ("-5", "- 5", "* X1", "[X2", "[X2]", "X2", "A+B", "C(1)", "a.b*c", "Q?", "1.2", "1.20"),
    # Non-ASCII: case pairs, and characters that match ASCII letters ignoring case.
    ("Über.1", "über.2", "ΣΑ1", "σα2", "ſyn1", "\u212a1", "k2", "İ1", "ı2", "i3", "ß1", "ẞ2"),
    ("STRAẞE 1", "Straße 1.1", "É1", "é1.1", "Ǆ1", "ǅ2", "ǆ3", "Ω1", "Ω2"),
    # Codes that start others where the text's code may end (at "-", "+", "'", "("),
    # with ASCII and non-ASCII first words (the long s and the Kelvin sign match s and k).
    ("A", "A+B", "A-1", "A-1 x", "A_1", "A(1)", "X2", "X2'b", "X2-Y 3"),
    ("s", "ſ-1", "S-1-2", "k", "\u212a-1", "K-1-2 x", "ı", "I-1", "İ-1-2"),
    # Comment words as codes, and codes that end in a comment word.
    ("note", "notes", "Comment1", "C1 comment", "C1"),
    # Whitespace-only and empty codes are no codes.
    ("", "  ", "Z9"),
    (),
]

_PIECES = [
    "",
    " ",
    "  ",
    "\t",
    "\xa0",
    "\u2003",
    "- ",
    "* ",
    "• ",
    "-",
    "•\t",
    "[",
    "[ ",
    "[  ",
    "]",
    " ]",
    ":",
    " : ",
    "：",
    "=",
    " - ",
    " – ",
    ".",
    ".1",
    ".x",
    ".X",
    "0",
    "1",
    "a",
    "_",
    "-",
    "'s",
    "’s",
    " comment",
    " Comments",
    " NOTE",
    " notes",
    " commentary",
    " commentaryx",
    " comment1",
    " comments]",
    " 1,234",
    " n/a",
    " -5",
    " (provisional)",
    "\u212a",
    "ſ",
    "İ",
    "ı",
    "é",
    "É",
    "ß",
    "ẞ",
    "σ",
    "ς",
    "Σ",
    "see ",
    "I could not get ",
    " checked",
    "x",
    "\x0c",
    "\x1c",
    "\u2028",
    "> ",
]


def _variants(code: str, rnd: random.Random) -> Iterator[str]:
    """The code as people type it and mistype it."""
    yield code
    yield code.upper()
    yield code.lower()
    yield code.swapcase()
    yield "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in code)
    yield re.sub(r" ", lambda _: rnd.choice([" ", "  ", "\t", "\xa0", "\u2003", ""]), code)
    yield code[:-1]
    yield code[1:]
    yield code + rnd.choice(["0", ".1", ".", "a", "_", "-"])


def generated_lines(codes: Sequence[str], count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    words = [v for c in codes if c for v in _variants(c, rnd)] or ["X1"]
    words += ["BV8a.1", "SYN0042.1", "NI 192", "P07.M0", "hello", "Thanks"]
    lines = []
    for _ in range(count):
        parts = [rnd.choice(_PIECES) for _ in range(rnd.randint(0, 3))]
        for _ in range(rnd.randint(1, 3)):
            parts.append(rnd.choice(words))
            parts += [rnd.choice(_PIECES) for _ in range(rnd.randint(0, 3))]
        lines.append("".join(parts))
    return lines


def _corpus_texts() -> Iterator[str]:
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix == ".eml":
            try:
                yield decode_message(raw).text
            except (MessageTooLarge, MimeTooDeep):
                continue
        else:
            yield raw.decode("utf-8", "replace")


@lru_cache(maxsize=1)
def corpus_lines() -> tuple[str, ...]:
    lines: dict[str, None] = {}
    for text in _corpus_texts():
        for line in text.split("\n"):
            lines[line] = None
        for line in normalise_text(text).split("\n"):
            lines[line] = None
            lines[strip_quote_prefix(line)] = None
    return tuple(lines)


def _corpus_codes() -> tuple[str, ...]:
    """Codes the corpus itself uses, words that look like codes, and the first words of
    some of its lines, so that its lines do match."""
    found: set[str] = set()
    firsts: set[str] = set()
    for line in corpus_lines():
        found.update(w for w in _TOKEN.findall(line) if form._looks_like_code(w))
        first = line.split()[:2]
        if first:
            firsts.add(first[0])
        if len(first) == 2 and len(firsts) % 7 == 0:
            firsts.add(" ".join(first))
    return tuple(sorted(found)) + tuple(sorted(firsts))[::5]


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


GROUPS = (0, "open", "code", "comment", "rest")


def _start_result(m: object) -> tuple[tuple[str | None, tuple[int, int]], ...] | None:
    if m is None:
        return None
    return tuple((m.group(g), m.span(g)) for g in GROUPS)  # type: ignore[attr-defined]


def _mention_result(m: object) -> tuple[str, tuple[int, int]] | None:
    if m is None:
        return None
    return m.group(), m.span()  # type: ignore[attr-defined]


def _compare(codes: tuple[str, ...], lines: Sequence[str]) -> int:
    """Both matchers over the lines; returns how many lines matched (so a test can tell
    that it compared matches, not only misses)."""
    old_start, new_start = old_line_start_pattern(codes), form._line_start_pattern(codes)
    old_named, new_named = old_mention_pattern(codes), form._mention_pattern(codes)
    matched = 0
    for line in lines:
        expected = _start_result(old_start.match(line))
        assert _start_result(new_start.match(line)) == expected, (codes, line)
        named = _mention_result(old_named.search(line))
        assert _mention_result(new_named.search(line)) == named, (codes, line)
        matched += expected is not None
    return matched


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


def test_the_corpus_codes_match_the_corpus() -> None:
    codes = _corpus_codes()
    assert len(codes) > 10
    assert _compare(codes, corpus_lines()) > 100
    assert _compare(codes[::2], corpus_lines()) > 50


@pytest.mark.parametrize("codes", CODE_SETS, ids=lambda c: "|".join(c) or "none")
def test_every_corpus_line(codes: tuple[str, ...]) -> None:
    _compare(codes, corpus_lines())


@pytest.mark.parametrize("codes", CODE_SETS, ids=lambda c: "|".join(c) or "none")
def test_generated_lines(codes: tuple[str, ...]) -> None:
    lines = generated_lines(codes, 6000, seed=hash(codes) % 1000)
    matched = _compare(codes, lines)
    if any(c.strip() for c in codes):
        assert matched > 100


def test_generated_lines_for_many_code_sets() -> None:
    rnd = random.Random(7)
    pool = [c for s in CODE_SETS for c in s] + list(_corpus_codes())
    for n in range(60):
        codes = tuple(rnd.sample(pool, rnd.randint(1, 12)))
        _compare(codes, generated_lines(codes, 400, seed=n))


def test_the_order_of_the_codes_does_not_matter() -> None:
    codes = CODE_SETS[1] + CODE_SETS[3]
    lines = generated_lines(codes, 2000, seed=3)
    _compare(codes[::-1], lines)
    _compare(tuple(sorted(codes)), lines)


LABELS = [
    "Undisputed invoices paid within 30 days (number)",
    "Leisure centre refurbishment - overall progress (on track / at risk / delayed)",
    "Expenditure on the service in the month (£)",
    "Cases closed within the target time",
    "Straße cleaning (ẞ)",
    "Über-all score",
    "\u212aelvin readings",
    "a.b*c (x+y)",
    "one",
]


def _label_rests(label: str, rnd: random.Random) -> Iterator[str]:
    for variant in _variants(label, rnd):
        for before in ("", " ", "  ", "\t"):
            for after in ("", ":", " :", ": 1,234", "：5", " 1234", "  1234 (est)", " x: y", "1"):
                yield before + variant + after
    for n in range(len(label) + 1):
        yield label[:n]
        yield label[:n] + ": 12"


def test_labels_against_the_label_patterns() -> None:
    rnd = random.Random(11)
    rests = list(corpus_lines()[:3000])
    for label in LABELS:
        for rest in [*_label_rests(label, rnd), *rests]:
            assert new_label_hits(label, rest) == old_label_hits(label, rest), (label, rest)
            assert form._words(label).end(rest, 0) == old_title_end(label, rest), (label, rest)


def test_corpus_labels_against_the_corpus() -> None:
    """The corpus's own labels, and the first words of its lines taken as labels, against
    the lines they came from and a sample of the others."""
    lines = corpus_lines()
    labels: dict[str, list[str]] = {}
    for line in lines:
        fl = form._parse_form_line(line, 1)
        if fl is not None and fl.label:
            labels.setdefault(fl.label, [])
    for n, line in enumerate(lines[::5]):
        words = strip_quote_prefix(line).split()
        if len(words) > 1:
            labels.setdefault(" ".join(words[: 1 + n % 4]), []).append(line)
    assert len(labels) > 150
    sample = [strip_quote_prefix(line) for line in lines[::17]]
    for label, own in labels.items():
        stem = form._norm(label)
        for rest in [*own, *(strip_quote_prefix(o) for o in own), *sample]:
            assert new_label_hits(label, rest) == old_label_hits(label, rest), (label, rest)
            assert form._words(stem).end(rest, 0) == old_title_end(stem, rest), (stem, rest)
            assert form._words(label).end(rest, 0) == old_title_end(label, rest), (label, rest)


# --------------------------------------------------------------------------------------------
# The facts about re that the matchers rest on
# --------------------------------------------------------------------------------------------


def _cased() -> list[str]:
    """Every character whose pattern differs from an exact one under IGNORECASE."""
    try:
        iscased = importlib.import_module("_sre").unicode_iscased
    except (ImportError, AttributeError):  # pragma: no cover - not CPython

        def iscased(code: int) -> bool:
            ch = chr(code)
            return ch.lower() != ch or ch.upper() != ch

    return [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000 and iscased(i)]


def test_ascii_characters_match_ignoring_case_as_str_lower_says() -> None:
    for a in map(chr, range(128)):
        pattern = re.compile(re.escape(a), re.IGNORECASE)
        for b in map(chr, range(128)):
            assert bool(pattern.fullmatch(b)) == (a.lower() == b.lower()), (a, b)


def test_every_character_matches_itself_and_none_matches_a_space() -> None:
    # A character that is not cased compiles to an exact literal: it matches itself, and a
    # space only if it is that space. The cased ones are checked here.
    spaces = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]
    assert all(re.fullmatch(r"\s", s) for s in spaces)
    assert all(s.split() == [] for s in spaces)
    for ch in _cased():
        pattern = re.compile(re.escape(ch), re.IGNORECASE)
        assert pattern.fullmatch(ch), ch
        assert not any(pattern.fullmatch(s) for s in spaces), ch


def test_non_ascii_twins_of_ascii_letters() -> None:
    assert form._ascii_twins("\u212a") == {"k"}
    assert form._ascii_twins("ſ") == {"s"}
    assert form._ascii_twins("é") == frozenset()
