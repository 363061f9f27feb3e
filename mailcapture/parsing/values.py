"""Read one answer (a figure, a milestone status, a date) from what a person typed.

The rule throughout: a wrong number stored silently is the worst outcome, so anything that a
careful reader could take two ways is *rejected*, with a reason written for the sender, never
guessed. In particular:

* ``1,234`` is one thousand two hundred and thirty-four (UK style), but ``1.234``, ``12.500``,
  ``1,23`` and ``1.234,5`` are rejected: in much of Europe those separators mean the opposite.
  A dot followed by exactly three digits is only accepted when the whole part is 0 (``0.125``)
  or has four or more digits (``1234.567``), where no thousands reading is possible.
* ``(12)`` is rejected: accounting brackets mean -12 to an accountant and a note to others.
* Two numbers on a line (``1234 or 1240``, ``12/15``, ``10-12``, ``1234 (was 1200)``) are
  rejected, including a bracketed note that contains a number.
* A unit that contradicts the component's unit (``£`` for a ``%`` item, ``%`` for a count)
  is rejected. For unit ``number`` one trailing plain noun is allowed (``1,480 invoices``),
  because people label counts; words that change the meaning (``more``, ``ytd``, ``k``) are not.
* A trailing note (``2401 (provisional, ONS revise next month)``, ``2401 - see note``) is split
  off before the figure is read, by :func:`split_note`, and kept as the item's comment: the
  figure is plain and the caveat is not lost. A note with a digit in it stays part of the
  answer and is rejected (``1234 (was 1200)``: which figure is meant?). :func:`parse_value`
  itself still rejects a bracketed note, for a caller that did not split it: it cannot keep
  the note, and dropping it silently could hide a caveat.
* Abbreviated multipliers (``1.2m``, ``12k``), scientific notation, a dash alone (zero or
  n/a?), ``120+`` and superscript or fraction characters are rejected.
* ``nil``, ``none``, ``zero`` are 0. ``n/a``, ``tbc``, ``unknown``... are not available, also
  with a note after them (``n/a - system down until the 20th``, as our instructions suggest);
  nothing numeric is stored from such an answer. More decimals than plausible are left to
  validation.
* Statuses: RAG colours map as green = on track, amber = at risk, red = delayed. Two statuses,
  a negation ("not on track") or extra words ("on track for June") are rejected; the comment
  line is the place for explanations. A completion date in the future is rejected.

Pure functions: "today" is passed in, never read from a clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

__all__ = [
    "MilestoneStatus",
    "ParsedStatus",
    "ParsedValue",
    "looks_like_answer",
    "parse_status",
    "parse_uk_date",
    "parse_value",
    "split_note",
]


@dataclass(frozen=True)
class ParsedValue:
    """One answer read against a component's unit; ``reason`` explains rejections to the sender."""

    kind: Literal["number", "not_available", "rejected", "empty", "confirm"]
    value: Decimal | None = None
    reason: str | None = None
    available_from: date | None = None
    estimated: bool = False


def _rejected(reason: str) -> ParsedValue:
    return ParsedValue(kind="rejected", reason=reason)


def _clean(text: str) -> str:
    """NFKC (full-width digits, odd spaces), one kind of minus, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2212", "-").replace("\u200b", "").replace("\ufeff", "")
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_MONTH = r"(?P<month>[a-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4}|\d{2})"
_DATE_FORMS = (
    re.compile(r"(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})"),
    re.compile(r"(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})(?:[/.-](?P<year>\d{4}|\d{2}))?"),
    re.compile(rf"{_DAY}(?: of)?[ -]{_MONTH}(?:,?[ -]{_YEAR})?"),
    re.compile(rf"{_MONTH} {_DAY}(?:,? {_YEAR})?"),
)
_NO_YEAR_LOOKBACK_MONTHS = 6


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _without_year(month: int, day: int, today: date) -> date | None:
    """The next such date on or after ``today`` minus six months.

    Why six months: an answer names either a date just gone ("completed 3 May", written in
    June) or one coming ("available from 15 Jan", written in November). Anything within the
    last half-year is read as past, anything else as the coming occurrence.
    """
    threshold = _months_before(today, _NO_YEAR_LOOKBACK_MONTHS)
    for year in range(threshold.year, threshold.year + 9):  # 29 Feb needs a leap year
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= threshold:
            return candidate
    return None


def parse_uk_date(text: str, today: date) -> date | None:
    """A date as a UK sender writes it, or None when it is not (unambiguously) a date.

    Numeric dates are day first (``05/06/2026`` is 5 June); ISO ``2026-05-15`` is accepted;
    a month name makes US order unambiguous (``May 15 2026``). Two-digit years are 20xx.
    A weekday that does not match the date makes it ambiguous (None). With no year, see
    :func:`_without_year`.
    """
    t = _clean(text).casefold().rstrip(".").strip()
    t = re.sub(r"^on ", "", t)
    if t == "today":
        return today
    if t == "yesterday":
        return today - timedelta(days=1)
    weekday: int | None = None
    m = re.match(r"([a-z]+)\.?,? ", t)
    if m and m.group(1) in _WEEKDAYS:
        weekday = _WEEKDAYS[m.group(1)]
        t = t[m.end() :]
    for form in _DATE_FORMS:
        m = form.fullmatch(t)
        if m:
            break
    else:
        return None
    month_text = m.group("month")
    if month_text.isdigit():
        month = int(month_text)
    elif month_text in _MONTHS:
        month = _MONTHS[month_text]
    else:
        return None
    day = int(m.group("day"))
    year_text = m.group("year")
    if year_text is None:
        result = _without_year(month, day, today)
    else:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        try:
            result = date(year, month, day)
        except ValueError:
            return None
    if result is None or (weekday is not None and result.weekday() != weekday):
        return None
    return result


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

_NOT_AVAILABLE = (
    r"n/?a|n\.a\.?|not available|not yet available|not applicable|tbc|tba|tbd|to be confirmed"
    r"|to follow|unknown|not known|not yet known|no data|data not available|awaiting data"
    r"|pending|available"
)
_NA_WHEN = re.compile(
    rf"(?P<phrase>{_NOT_AVAILABLE})(?:\s*[-,:;(]?\s*(?:until|till|til|before|after|from|by|on"
    r"|expected|due|available)\s+(?:on\s+|from\s+)?(?P<when>[^)]+?))?\s*\)?",
    re.IGNORECASE,
)
#: "CODE: confirm" keeps a figure we held as implausible (see mailflow/apply.py); the word
#: alone, so "confirm 40" is still read as a figure with words around it and rejected.
_CONFIRM = re.compile(r"confirm(?:ed)?", re.IGNORECASE)
_ZERO_WORDS = re.compile(r"nil|none|zero|nought|nothing", re.IGNORECASE)
_ESTIMATE_BEFORE = re.compile(
    r"^(?:approx(?:imately|\.)?|c\.|ca\.|c(?= ?\d)|circa|about|around|roughly|est(?:imated?|\.)?"
    r"|~|≈)\s*",
    re.IGNORECASE,
)
_ESTIMATE_AFTER = re.compile(
    r"\s*(?:\(\s*(?:estimated?|est\.?|approx(?:imately|\.)?|approximate)\s*\)"
    r"|[-,]?\s*(?:estimated?|est\.?|approx(?:imately|\.)?))$",
    re.IGNORECASE,
)
_RUN = re.compile(r"\.?[0-9](?:[0-9.,' ]*[0-9])?")
_SCIENTIFIC = re.compile(r"\d\s*(?:e[+-]?\d|x\s*10\s*\^|×\s*10)", re.IGNORECASE)

# Unit vocabulary: canonical name -> spellings. Used both to accept the component's own unit
# and to spot a contradicting one.
_UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "%": ("%", "percent", "per cent", "pc", "percentage"),
    "£": ("£", "gbp", "pound", "pounds", "sterling"),
    "$": ("$", "usd", "dollar", "dollars"),
    "€": ("€", "eur", "euro", "euros"),
    "days": ("day", "days", "d"),
    "hours": ("hour", "hours", "hr", "hrs", "h"),
    "weeks": ("week", "weeks", "wk", "wks"),
    "months": ("month", "months"),
    "years": ("year", "years", "yr", "yrs"),
    "minutes": ("minute", "minutes", "min", "mins"),
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme", "kilogrammes"),
    "tonnes": ("tonne", "tonnes", "t", "metric tonnes"),
    "tons": ("ton", "tons"),
    "g": ("g", "gram", "grams"),
    "km": ("km", "kilometre", "kilometres", "kilometer", "kilometers"),
    "miles": ("mile", "miles"),
    "m": ("metre", "metres", "meter", "meters"),
    "litres": ("l", "litre", "litres", "liter", "liters"),
    "kwh": ("kwh",),
}
_NUMBER_UNITS = {"number", "count", "no", "no.", "#", "n", "num", "items", ""}
_CURRENCY_SYMBOLS = "£$€"
# Words after a figure that change what it means: never a harmless label.
_MEANING_WORDS = {
    "more", "less", "fewer", "extra", "additional", "up", "down", "increase", "decrease",
    "higher", "lower", "over", "under", "plus", "minus", "than", "ytd", "cumulative", "total",
    "so", "far", "each", "per", "odd", "ish", "half", "quarter", "dozen", "hundred", "thousand",
    "million", "billion", "k", "m", "bn", "mn", "thousands", "millions", "hundreds", "lakh",
    "max", "min", "maximum", "minimum", "least", "most", "only", "not", "no", "or", "and",
    "to", "between", "from", "was", "previously", "revised", "target", "forecast", "budget",
}  # fmt: skip
_MULTIPLIER = re.compile(r"^(?:k|m|mn|bn|b|thousand|million|billion|000s?)\b", re.IGNORECASE)


def _unit_of(unit: str) -> tuple[str, str]:
    """(category, canonical) for the component's unit: number, percent, currency, or word."""
    u = _clean(unit).casefold()
    if u in _NUMBER_UNITS:
        return "number", ""
    if u in _UNIT_WORDS["%"]:
        return "percent", "%"
    if u and u[0] in _CURRENCY_SYMBOLS:
        return "currency", u
    for canonical, spellings in _UNIT_WORDS.items():
        if u == canonical or u in spellings:
            if canonical in _CURRENCY_SYMBOLS:
                return "currency", canonical
            return "word", canonical
    return "word", u


def _canonical_unit_word(word: str) -> str | None:
    w = word.casefold()
    for canonical, spellings in _UNIT_WORDS.items():
        if w == canonical or w in spellings:
            return canonical
    return None


def _validate_run(run: str) -> tuple[str | None, str | None]:
    """(digits for Decimal, None) for a well-formed UK number, else (None, reason)."""
    if re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", run):
        whole, _, frac = run.partition(".")
        if frac and len(frac) == 3 and whole and whole != "0" and len(whole) <= 3:
            return None, (
                f"'{run}' could mean {whole}{frac} (dot as thousands separator) or {run} "
                f"(decimal point); write {whole},{frac} if you mean the whole number, "
                f"or {run}0 if you mean the decimal"
            )
        return run, None
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", run):
        return run.replace(",", ""), None
    if re.fullmatch(r"\d{1,3}(?: \d{3})+(?:\.\d+)?", run):
        return run.replace(" ", ""), None
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d{1,2}|\d+,\d{4,}|\d+(?:\.\d{3})+", run):
        return None, (
            f"'{run}' looks like European number style (dot for thousands or comma for "
            "decimals); please write it UK style, e.g. 1,234.5"
        )
    if " " in run:
        return None, f"'{run}' looks like more than one number; please give a single figure"
    if "'" in run:
        return None, f"we could not read '{run}': please use commas for thousands (1,234)"
    if re.search(r"\d\.\d+\.\d", run) or re.search(r"\d[ ,.]\d{1,2}(?:\D|$)", run):
        return None, f"'{run}' looks like more than one number, or a date; please give one figure"
    return None, f"we could not read '{run}' as one number; please write it like 1,234.5"


def _two_number_reason(text: str, first: re.Match[str], second: re.Match[str]) -> str:
    between = text[first.end() : second.start()].strip().casefold()
    if re.fullmatch(r"-|–|—|to|and|-\s*to", between) or between.endswith(("-", "–")):
        return "this looks like a range; please give a single figure"
    if "/" in between:
        return "two numbers separated by '/'; please give a single figure"
    if "(" in between:
        return "the note in brackets contains another number, so we cannot tell which is meant"
    if between in {"or", "/or"}:
        return "two alternative figures were given; please give just one"
    return "more than one number was given; please give a single figure"


_NA_START = re.compile(rf"(?:{_NOT_AVAILABLE.replace('|available', '')})\b", re.IGNORECASE)


_UNTIL = re.compile(r"\b(?:until|till|til|from|after|by|on|expected|due)\s+(?:the\s+)?")
#: Longer than any date :func:`parse_uk_date` reads ("on wednesday, 30th of september 2026"
#: is 38 characters), with room to spare.
_LONGEST_DATE = 64


def _not_available(text: str, original: str, today: date) -> ParsedValue | None:
    """Read n/a, tbc, "not available until 15 May", and the same with a note after it.

    Our instructions suggest "n/a - system down until the 20th": a note may follow the phrase,
    figures included, because nothing numeric is stored from a not-available answer. The
    date it becomes available is read when the note says "until <date>" (or from, by, due...)
    and the date is a whole, unambiguous one.
    """
    m = _NA_WHEN.fullmatch(text)
    if m:
        phrase = m.group("phrase").casefold()
        when = m.group("when")
        if phrase == "available" and not when:
            return None  # "available" alone is not an answer
        available_from = parse_uk_date(when, today) if when else None
        return ParsedValue(kind="not_available", reason=original, available_from=available_from)
    if not _NA_START.match(text):
        return None
    lowered = text.casefold()
    available_from = None
    # Only a rest short enough to be a date is read as one: parse_uk_date takes the whole
    # rest, so trying it after every "on" or "by" in a long note would be quadratic.
    end = len(lowered.rstrip("."))
    for until in _UNTIL.finditer(lowered):
        if end - until.end() > _LONGEST_DATE:
            continue
        available_from = parse_uk_date(lowered[until.end() :], today)
        if available_from is not None:
            break
    return ParsedValue(kind="not_available", reason=original, available_from=available_from)


def parse_value(answer: str, unit: str, today: date) -> ParsedValue:
    """Read one figure from an answer string, for a component measured in ``unit``.

    ``unit`` is the register's unit: ``number``, ``%``, ``£``, ``days``, ``kg``, ``tonnes``...
    Returns kind ``number`` (value set, maybe ``estimated``), ``not_available`` (reason is the
    phrase given, available_from when a date came with it), ``confirm`` (the word alone:
    keep the figure held for confirmation), ``empty`` or ``rejected``.
    """
    if any(unicodedata.category(ch) == "No" for ch in answer):
        # Superscripts, fractions, circled digits: NFKC would turn "100²" into "1002".
        return _rejected("please write the figure with plain digits (no ², ½ or similar)")
    text = original = _clean(answer)
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    if not text:
        return ParsedValue(kind="empty")
    if _CONFIRM.fullmatch(text):
        return ParsedValue(kind="confirm")
    na = _not_available(text, original, today)
    if na is not None:
        return na
    if _ZERO_WORDS.fullmatch(text):
        return ParsedValue(kind="number", value=Decimal(0))
    if text in {"-", "–", "—", "--"}:
        return _rejected("a dash alone could mean zero or not available; write 0 or n/a")
    if _SCIENTIFIC.search(text):
        return _rejected("please write the number in full, not in scientific notation")

    estimated = False
    m = _ESTIMATE_BEFORE.match(text)
    if m:
        estimated, text = True, text[m.end() :]
    m = _ESTIMATE_AFTER.search(text)
    if m:
        estimated, text = True, text[: m.start()].rstrip()

    runs = list(_RUN.finditer(text))
    if not runs:
        return _rejected(f"we could not find a number in '{answer.strip()}'")
    if len(runs) > 1:
        return _rejected(_two_number_reason(text, runs[0], runs[1]))
    run = runs[0]
    digits, problem = _validate_run(run.group())
    if digits is None:
        return _rejected(problem or "we could not read the number")

    before = text[: run.start()].strip()
    after = text[run.end() :].strip()
    return _apply_context(before, after, digits, unit, estimated)


def _apply_context(before: str, after: str, digits: str, unit: str, estimated: bool) -> ParsedValue:
    """Check sign, brackets, currency and unit words around the one number found."""
    category, canonical = _unit_of(unit)
    negative = False
    currency: str | None = None
    rest = before
    while rest:
        if rest[0] in "-+" and not negative:
            negative = rest[0] == "-"
            rest = rest[1:].strip()
        elif rest[0] in _CURRENCY_SYMBOLS and currency is None:
            currency, rest = rest[0], rest[1:].strip()
        elif rest.startswith("("):
            if after.startswith(")"):
                return _rejected(
                    "a number in brackets could be a negative (accounting style) or a note; "
                    "write -12 for a negative figure"
                )
            return _rejected("we could not read the text before the number")
        else:
            return _rejected(f"unexpected '{before}' before the number; give the figure alone")

    if after.startswith("-"):
        return _rejected("a trailing minus sign is ambiguous; write -12 for a negative figure")
    if after.startswith("+"):
        return _rejected("'+' after a number means 'at least'; please give the actual figure")
    if after.startswith("("):
        return _rejected(
            "please put notes in the comment line rather than in brackets after the figure"
        )
    if category == "word" and (
        _canonical_unit_word(after) == canonical
        or after.casefold() in {canonical, canonical.rstrip("s"), canonical + "s"}
    ):
        after, unit_found_early = "", canonical
    else:
        unit_found_early = None
    if _MULTIPLIER.match(after):
        return _rejected(
            "please write the figure in full (e.g. 1,200,000 rather than 1.2m or 1,200k)"
        )

    unit_found: str | None = currency or unit_found_early
    if after.startswith("%"):
        if currency:
            return _rejected("the answer has both a currency sign and '%'")
        unit_found, after = "%", after[1:].strip()
    if after:
        words = after.casefold()
        if currency and words in _UNIT_WORDS[currency]:
            after = ""
        else:
            canonical_word = _canonical_unit_word(words)
            if canonical_word is not None:
                if unit_found is not None and canonical_word != unit_found:
                    return _rejected(f"the answer mixes units ('{after}')")
                unit_found, after = canonical_word, ""

    problem = _unit_problem(category, canonical, unit, unit_found)
    if problem:
        return _rejected(problem)
    if after:
        if category == "number" and _is_plain_noun(after):
            pass  # "1,480 invoices": a label on a count
        else:
            return _rejected(
                f"unexpected words after the number ('{after}'); please give the figure alone "
                "and put any note in the comment line"
            )

    # Exactly the digits given: unary minus and abs() would round to the context's 28
    # digits, turning a 29-digit answer into another number instead of one refused later.
    value = Decimal(digits)
    if negative and value != 0:
        value = value.copy_negate()
    return ParsedValue(kind="number", value=value, estimated=estimated)


def _unit_problem(category: str, canonical: str, unit: str, found: str | None) -> str | None:
    if found is None:
        return None
    if category == "percent":
        return None if found == "%" else f"this item is a percentage, but the answer is in {found}"
    if category == "currency":
        if found != canonical:
            return f"this item is in {unit}, but the answer is in {found}"
        return None
    if category == "number":
        return f"this item is a count (number), but the answer is in {found}"
    if found == canonical:
        return None
    return f"this item is measured in {unit}, but the answer is in {found}"


def _is_plain_noun(words: str) -> bool:
    """One ordinary word (letters only) that does not change the figure's meaning."""
    w = words.casefold()
    return (
        re.fullmatch(r"[a-z][a-z'-]{1,30}", w) is not None
        and w not in _MEANING_WORDS
        and _canonical_unit_word(w) is None
    )


# --------------------------------------------------------------------------------------------
# Trailing notes, and what an answer looks like
# --------------------------------------------------------------------------------------------

_ESTIMATE_WORD = (
    r"(?:approx(?:imately|\.)?|c\.|ca\.|circa|about|around|roughly|est(?:imated?|\.)?|~|≈)"
)
#: One figure as people type it, with what may stand around it: an estimate word, a sign, a
#: currency, a percent sign and one word (a unit or a label: "12 days", "1,480 invoices").
#: Loose on purpose: it only decides where a note starts; :func:`parse_value` reads the figure.
_FIGURE = re.compile(
    rf"(?:{_ESTIMATE_WORD}\s*)?[-+\u2212]?\s*[£$€]?\s*\.?\d[\d,.' \u00a0\u202f]*"
    r"(?:\s*%|\s*[A-Za-z][A-Za-z'-]*)?",
    re.IGNORECASE,
)
_DASH_SEPARATOR = re.compile(r"\s+[-–—]\s+")
_ONLY_ESTIMATE = re.compile(rf"{_ESTIMATE_WORD}|approximate|estimate", re.IGNORECASE)
#: Longer than any figure with its unit and estimate word; a longer head is no figure, and
#: the check stays cheap on a 10,000-character line.
_LONGEST_FIGURE = 60


def _is_figure(head: str) -> bool:
    """One figure as people type it (see :data:`_FIGURE`), not two (``12 15``)."""
    return (
        len(head) <= _LONGEST_FIGURE
        and _FIGURE.fullmatch(head) is not None
        and not re.search(r"\d\s+\d", head.replace(",", ""))
    )


def split_note(answer: str) -> tuple[str, str]:
    """``(figure, note)`` from ``2401 (provisional)`` or ``2401 - see note``; else ``(answer, "")``.

    Split only when what comes before the note is one figure as people type it and the note
    has letters and no digit in it. A note with a figure in it (``1234 (was 1200)``, ``10 -
    12``) is left whole, so :func:`parse_value` rejects it: we could not tell which figure is
    meant. An estimate marker (``120 (est)``) is not a note: :func:`parse_value` reads it as
    an estimate. ``n/a - system down`` is not split either (its head is no figure): the whole
    answer is the not-available reason. Linear: the first bracket or dash decides.
    """
    text = answer.strip()
    candidates: list[tuple[str, str]] = []
    opening = text.find("(")
    if opening > 0 and text.rstrip(".").endswith(")") and text.count("(") == 1:
        candidates.append((text[:opening], text.rstrip(".")[opening + 1 : -1]))
    dash = _DASH_SEPARATOR.search(text)
    if dash is not None and dash.start() > 0:
        candidates.append((text[: dash.start()], text[dash.end() :]))
    for head, note in candidates:
        head, note = head.strip(), note.strip().rstrip(".").strip()
        if ")" in note or not re.search(r"[^\W\d_]", note) or re.search(r"\d", note):
            continue
        if _ONLY_ESTIMATE.fullmatch(note):
            continue
        if _is_figure(head):
            return head, note
    return text, ""


def looks_like_answer(text: str) -> bool:
    """Whether a line, on its own, reads as an answer: a figure (with maybe a note), a
    not-available phrase, nil, or one whole milestone status ("on track", "complete 3 May").

    Used for a line typed under a quoted form line (interleaved answering): such a line is
    the item's value when it looks like one, and its comment otherwise. A sentence that only
    starts with a status word ("Delayed by the contractor's insolvency") is a comment.
    """
    t = _clean(text)
    if not t:
        return False
    head, _note = split_note(t)
    if _is_figure(head.rstrip(".")):
        return True
    if _NA_START.match(t) or _ZERO_WORDS.fullmatch(t.rstrip(".")):
        return True
    if _CONFIRM.fullmatch(t.rstrip(".").strip()):
        return True
    status = _status_text(t)
    if status in _PHRASE_TO_STATUS:
        return True
    m = _COMPLETE_WITH_DATE.fullmatch(status)
    return m is not None and re.search(r"\d", m.group("date")) is not None


# --------------------------------------------------------------------------------------------
# Milestone statuses
# --------------------------------------------------------------------------------------------


class MilestoneStatus(StrEnum):
    ON_TRACK = "on track"
    AT_RISK = "at risk"
    DELAYED = "delayed"
    COMPLETE = "complete"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class ParsedStatus:
    """A milestone status; all None when the answer was empty, ``reason`` set when rejected."""

    status: MilestoneStatus | None
    completed_on: date | None
    reason: str | None


_STATUS_WORDS: dict[MilestoneStatus, tuple[str, ...]] = {
    MilestoneStatus.NOT_STARTED: (
        "not started", "not yet started", "yet to start", "not begun", "not yet begun",
        "not commenced", "not yet commenced", "not started yet", "yet to begin",
    ),
    MilestoneStatus.ON_TRACK: (
        "on track", "ontrack", "on schedule", "on target", "on time", "on course", "on plan",
        "to plan", "going to plan", "green", "rag green",
    ),
    MilestoneStatus.AT_RISK: ("at risk", "amber", "some risk", "at some risk", "rag amber"),
    MilestoneStatus.DELAYED: (
        "delayed", "slipping", "slipped", "behind", "behind schedule", "late", "running late",
        "red", "rag red", "overdue", "off track", "offtrack",
    ),
    MilestoneStatus.COMPLETE: (
        "complete", "completed", "done", "finished", "achieved", "delivered",
    ),
}  # fmt: skip
_FILLER = re.compile(r"^(?:(?:it is|it's|is|currently|now|still|status|project|yes)\b[ ,:-]*)+")
_PHRASE_TO_STATUS = {p: s for s, phrases in _STATUS_WORDS.items() for p in phrases}
_ANY_STATUS = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _PHRASE_TO_STATUS), key=len, reverse=True)) + r")\b"
)
_NEGATION = re.compile(r"\b(?:not|no longer|never|isn't|isnt|aren't|no)\b|n't\b")
_COMPLETE_WITH_DATE = re.compile(
    r"(?:completed|complete|done|finished|achieved|delivered)"
    r"\s*(?:on|as of|at|in)?\s*[-,:(]?\s*(?P<date>.+?)\s*\)?"
)
_OPTIONS = "on track, at risk, delayed, complete (with the date) or not started"


def _status_text(answer: str) -> str:
    t = _clean(answer).casefold()
    t = re.sub(r"(?<=[a-z])[-_](?=[a-z])", " ", t)
    t = t.strip(" .!;,")
    return _FILLER.sub("", t).strip(" .!;,")


def parse_status(answer: str, today: date) -> ParsedStatus:
    """Read a milestone status; "complete" may carry its date ("completed 3 May").

    Synonyms map to the five statuses (RAG colours too: green, amber, red = delayed). Anything
    mentioning two statuses, negating one, or carrying other words is rejected with a reason,
    so a note such as "on track but delayed" never turns into one status by accident.
    """
    if not _clean(answer):
        return ParsedStatus(None, None, None)
    t = _status_text(answer)
    status = _PHRASE_TO_STATUS.get(t)
    if status is not None:
        return ParsedStatus(status, None, None)

    found = {_PHRASE_TO_STATUS[m.group()] for m in _ANY_STATUS.finditer(t)}
    remainder = _ANY_STATUS.sub(" ", t)
    if len(found) == 1 and not re.search(r"\w", remainder):
        # "amber (at risk)", "on track / green": two spellings of one status.
        (only,) = found
        return ParsedStatus(only, None, None)
    if _NEGATION.search(remainder):
        return ParsedStatus(
            None,
            None,
            f"'{answer.strip()}' has a negative ('not', 'no') in it that we cannot read "
            f"safely; please answer one of: {_OPTIONS}",
        )
    if len(found) > 1:
        names = " and ".join(sorted(s.value for s in found))
        return ParsedStatus(
            None,
            None,
            f"the answer mentions both {names}; please give one status and put the "
            "explanation in the comment line",
        )
    m = _COMPLETE_WITH_DATE.fullmatch(t)
    if m and found == {MilestoneStatus.COMPLETE}:
        when = parse_uk_date(m.group("date"), today)
        if when is None:
            return ParsedStatus(
                None,
                None,
                f"we could not read the completion date in '{answer.strip()}'; "
                "write it like 'complete 3 May 2026'",
            )
        if when > today:
            return ParsedStatus(
                None,
                None,
                f"the completion date {when:%d %B %Y} is in the future; if it is "
                "not finished yet, answer on track, at risk or delayed",
            )
        return ParsedStatus(MilestoneStatus.COMPLETE, when, None)
    if found:
        (only,) = found
        return ParsedStatus(
            None,
            None,
            f"we read '{only.value}' but there are other words too; please give the "
            "status alone and put the rest in the comment line",
        )
    return ParsedStatus(
        None,
        None,
        f"'{answer.strip()}' is not a status we recognise; please answer one of: {_OPTIONS}",
    )
