"""Separate what the sender wrote from the quoted original in a reply's plain text.

Why our own rules rather than a library: measured (benchmarks/RESULTS.md, "Reply parsers
compared (issue 13)", ``python -m benchmarks.replies``) on 82 labelled public replies, the
maintained parsers that install here find exactly the sender's text in about a third of them
(email-reply-parser 32 %, mail-parser-reply 33 %, quotequail 35 %), talon (unmaintained since
2017) in 57 %, these rules in 99 %. That last figure flatters us: the rules were written
against the 32 corpus samples and then fixed on the misses of the 50 collected ones; before
issue 13 they got 32 of those 50 (64 %) where talon got 36 (72 %). Each parser fails
differently (greedy "On ..." matches, no wrapped attributions, no Outlook header blocks in other
languages, signatures kept). A cut in the wrong place is costly here: text cut too early loses
a sender's top-posted answers, text cut too late makes our own quoted form look like new text.
So every rule below is narrow and named, and the name of the rule that cut is returned for the
audit trail.

The model is line based. Each line of the (normalised) text is either *new* (written by the
sender) or not. ``>``-prefixed lines are never new. Text outside quotes is new until a
*structural boundary* starts the quoted original:

* an attribution line ("On ... wrote:" and its translations, possibly wrapped over up to four
  lines); when a ``>`` quote follows it, only the attribution itself is cut and unquoted text
  after the quote is new again (bottom-posting, inline replies). Text typed on the line before
  a keyword-first attribution ("Figures attached. On ... wrote:") stays new: the line is split;
* an Outlook header block (From/Sent/To/Subject and translations), with any separator line
  (``____``) just above it;
* an "-----Original Message-----" or "Forwarded message" separator;
* a mobile signature ("Sent from my iPhone") standing on its own with more text below it.

Then the trailing noise of the new text is trimmed (mobile signature, "-- " signature, a
one-name sign-off such as "-Name" or "/Name", mailing list footer, legal disclaimer) and a
leading external-sender banner is dropped. Nothing is
thrown away: every line that is not new text is in ``quoted_text``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CHECK_EVERY",
    "Checkpoint",
    "LineRole",
    "ReplySplit",
    "line_roles",
    "mark_new_lines",
    "normalise_text",
    "quote_depth",
    "split_reply",
    "strip_quote_prefix",
]


#: What the long loops call now and then (every :data:`CHECK_EVERY` lines, and between
#: stages) so that the caller can stop a message that has had its share of time: it returns
#: to go on and raises to stop. Parsing never reads a clock itself, so it stays a pure
#: function of its text; the pipeline's checkpoint compares the time (issue 12), a test's
#: may count the calls.
Checkpoint = Callable[[], None]
CHECK_EVERY = 256


def _no_checkpoint() -> None:
    """The default checkpoint: read to the end."""


@dataclass(frozen=True)
class ReplySplit:
    """A reply cut in two; ``boundary`` names the rule that cut (None: nothing was cut)."""

    new_text: str
    quoted_text: str
    boundary: str | None


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Invisible characters that mail clients and HTML converters sprinkle into text (Zimbra's
# zero-width spaces, Windows Mail's left-to-right marks, byte-order marks at line starts).
# They break every regex that anchors on a word, and carry no meaning in a reply.
_INVISIBLE = dict.fromkeys(
    map(
        ord, "\u200b\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ),
    None,
)
_SPACES = {ord("\u00a0"): " ", ord("\u202f"): " ", ord("\u2007"): " ", ord("\t"): "    "}


def normalise_text(text: str) -> str:
    """``\\n`` line endings, no invisible characters, no-break spaces as plain spaces.

    Shared with :mod:`mailcapture.parsing.form` so that line numbers agree between the two.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_INVISIBLE).translate(_SPACES)


_QUOTE_PREFIX = re.compile(r"^[ ]*((?:>[ ]?)+)")


def quote_depth(line: str) -> int:
    """How many ``>`` levels quote this line (``> >`` and ``>>`` both count two)."""
    m = _QUOTE_PREFIX.match(line)
    return m.group(1).count(">") if m else 0


def strip_quote_prefix(line: str) -> str:
    """The line without its ``>`` quote markers."""
    m = _QUOTE_PREFIX.match(line)
    return line[m.end() :] if m else line


# --------------------------------------------------------------------------------------------
# Attribution lines ("On ... wrote:")
# --------------------------------------------------------------------------------------------

# Possessive: a colon is no space, so giving back spaces can never help the colon match; it
# only costs a step per space on every failed attempt.
_COLON = r"\s*+[:：]"


@dataclass(frozen=True)
class _Attribution:
    name: str
    pattern: re.Pattern[str]
    # Keyword-first forms ("On", "Am", "Le" ...) are also how ordinary sentences start, so they
    # must carry a digit (the date) on their first line: "On your remote host..." must not cut.
    digit_on_first_line: bool
    # Words the pattern cannot match without (case-folded): a window holding none of them is
    # skipped without running the pattern. Only a shortcut: the pattern still decides.
    keywords: tuple[str, ...]


def _attr(
    name: str, pattern: str, keywords: tuple[str, ...], digit_on_first_line: bool = True
) -> _Attribution:
    return _Attribution(name, re.compile(pattern, re.IGNORECASE), digit_on_first_line, keywords)


# Cost: these run on every unquoted line that ends with a colon, so each must stay linear in
# the line's length however it is written. Two shapes needed care (tests/parsing/test_cost.py):
#
# * "Am <date> schrieb <name>:" had two lazy gaps, and on a line with many "schrieb" the
#   engine tried each one with every length of the second gap. The first gap and the verb are
#   now an atomic group taken greedily: the last "schrieb" within reach leaves the shortest
#   tail, so if any choice of verb lets the tail fit its 250 characters, that one does. The
#   same lines match as before, in one pass.
# * "<name> <addr> wrote:" let the address start at any of 150 offsets and rescanned the rest
#   of the line from each. The address must now start where a run of address characters
#   starts (the lookbehind), which is where a match could start anyway: a match inside a run
#   extends back to its start. The runs are possessive (they stop at a character they cannot
#   take, and giving one back can never produce the "@" or the space that must follow).
_ADDR_RUN = r"(?<![^\s<>@])[^\s<>@]++@[^\s<>@]++"

_ATTRIBUTIONS: tuple[_Attribution, ...] = (
    _attr("on-wrote:en", r"On\s.{3,250}?\swrote" + _COLON, ("wrote",)),
    # "On <date>, <name> <address> sent:" (talon's fixtures). "sent" is also an ordinary verb
    # ("On 3 May we sent:"), so an address or a clock time must come first: the lookahead
    # reads ahead once, lazily, to the first one.
    _attr("on-sent:en", r"On\s(?=.{0,250}?(?:@|\d:\d\d)).{3,250}?\ssent" + _COLON, ("sent",)),
    # Russian Claws Mail / Sylpheed: "В Fri, 4 Feb 2022 10:45:15 +0100" / "Name <addr> пишет:".
    # Keyword-first, so the date line above the name is part of it, not the sender's text.
    _attr(
        "v-pishet:ru",
        r"В\s.{3,250}?\s(?:пишет|писал|писала|написал|написала)(?:\(а\))?" + _COLON,
        ("пишет", "писал", "написал"),
    ),
    # Vietnamese Gmail: "Vào Th 2, 5 thg 5, 2026 vào lúc 09:00 Name <addr> đã viết:".
    _attr("vao-da-viet:vi", r"Vào\s.{3,250}?\sđã\s+viết" + _COLON, ("viết",)),
    _attr("am-schrieb:de", r"(?>Am\s.{3,250}\sschrieb\s).{0,250}?" + _COLON, ("schrieb",)),
    _attr("le-a-ecrit:fr", r"Le\s.{3,250}?\sa\s+écrit" + _COLON, ("écrit",)),
    _attr("el-escribio:es", r"El\s.{3,250}?\sescribió" + _COLON, ("escribió",)),
    _attr("em-escreveu:pt", r"Em\s.{3,250}?\sescreveu" + _COLON, ("escreveu",)),
    _attr("il-ha-scritto:it", r"(?:Il|In\s+data)\s.{3,250}?\sha\s+scritto" + _COLON, ("scritto",)),
    _attr(
        "op-geschreven:nl",
        r"(?:Op\s.{3,250}?\shet\s+volgende\s+geschreven|(?>Op\s.{3,250}\sschreef\s).{0,250}?)"
        + _COLON,
        ("geschreven", "schreef"),
    ),
    _attr("den-skrev:da-no-sv", r"(?>Den\s.{3,250}\sskrev\s).{0,250}?" + _COLON, ("skrev",)),
    _attr("dnia-napisal:pl", r"Dnia\s.{3,250}?\snapisał(?:\(a\)|a)?" + _COLON, ("napisał",)),
    _attr(
        "w-dniu-pisze:pl",
        r"W\s+dniu\s.{3,250}?\s(?:pisze|napisał(?:\(a\)|a)?)" + _COLON,
        ("pisze", "napisał"),
    ),
    # Name-first and date-first forms: anchored on the verb at the end instead.
    _attr("schrieb-am:de", r".{1,200}?\sschrieb\s+am\s.{3,100}?" + _COLON, ("schrieb",), False),
    _attr("pyshe:uk", r".{3,250}?\s(?:пише|написав|написала)" + _COLON, ("пише", "написа"), False),
    _attr(
        "pisal:ru",
        r".{3,250}?\s(?:пишет|писал|писала|написал|написала)(?:\(а\))?" + _COLON,
        ("пишет", "писал", "написал"),
        False,
    ),
    # Russian Gmail names no verb: "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:".
    # Anchored on the year's "г." and the time after "в"; every gap is bounded, and the
    # address is found as in "date-name".
    _attr(
        "gmail-date:ru",
        r"[^\d\n]{0,40}?\d{1,2}\s+\S{1,12}\s+\d{4}\s*г\.,?\s+в\s+\d{1,2}:\d{2},?\s.{0,150}?<"
        + _ADDR_RUN
        + ">"
        + _COLON,
        ("г.",),
        False,
    ),
    # Nordic "skrev:" with nothing after the verb: "Den 14 september, 2015 02:23:18, Valentino
    # Rudy (valentino@rudy.be) skrev:", "På ...", Apple's "Den fre 28 feb. 2025 10:15Anna
    # <addr> skrev:". Name-first, so the window must hold a digit or an address, and a line of
    # the sender's own text directly above (no blank line between) is not swallowed (see
    # _matches_later). "Den ... skrev Name:" stays with "den-skrev:da-no-sv".
    _attr("skrev:da-no-sv", r".{3,250}?\sskrev" + _COLON, ("skrev",), False),
    _attr("napsal:cs", r".{3,250}?\snapsal(?:a|\(a\))?" + _COLON, ("napsal",), False),
    _attr("kirjoitti:fi", r".{3,250}?\skirjoitti" + _COLON, ("kirjoitti",), False),
    # Hungarian Gmail: "2026. jan. 5., h 14:32 időpontban Nagy Béla <bela@example.hu> ezt írta:".
    _attr("irta:hu", r".{3,250}?\s(?:ezt\s+)?írta" + _COLON, ("írta",), False),
    _attr(
        "wrote:ja",
        r".{3,250}?(?:のメッセージ|のメール|書きました)" + _COLON,
        ("のメッセージ", "のメール", "書きました"),
        False,
    ),
    _attr("gmail-date:ja", r"\d{4}年\d{1,2}月\d{1,2}日.{0,200}?" + _COLON, ("年",), False),
    _attr("xiedao:zh", r".{3,250}?写道" + _COLON, ("写道",), False),
    _attr("name-wrote:en", r".{0,150}?<?" + _ADDR_RUN + r">?\s+wrote" + _COLON, ("wrote",), False),
    _attr("escreveu:pt", r".{3,250}?[\s>]escreveu" + _COLON, ("escreveu",), False),
    # Gmail in several locales, date first, wrapped inside the address by the 76-column limit:
    # "2014-10-17 11:28 GMT+03:00 Postmaster <" / "postmaster@example.org>:" (talon's fixtures).
    # Joining the lines leaves a space after "<", which "date-name" does not allow.
    _attr(
        "gmail-date-first",
        r"\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}(?:\s+GMT[+-]\d{1,2}:?\d{2})?\s.{0,150}?<\s?"
        + _ADDR_RUN
        + r"\s?>"
        + _COLON,
        ("@",),
        False,
    ),
    # Yandex, mail.ru, many webmails: "26.06.2014, 14:41, "Name" <addr>:".
    _attr(
        "date-name",
        r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}.{0,150}?<" + _ADDR_RUN + ">" + _COLON,
        ("@",),
        False,
    ),
)

# Zoho writes "---- On ... wrote ----": no colon, dashes round it.
_DASHED_ON_WROTE = re.compile(r"-{2,}\s*On\s.{3,250}?\swrote\s*-{2,}", re.IGNORECASE)
_MAX_ATTRIBUTION_LINES = 4
# No attribution is longer than this (the patterns allow a few hundred characters): a window
# past it is not one, and longer lines never reach the patterns.
_MAX_ATTRIBUTION_CHARS = 1000
# Every pattern ends with a colon, the dashed one with a dash: a window that ends otherwise
# cannot match, which spares almost every line the patterns.
_ATTRIBUTION_ENDS = frozenset(":：-")
_DIGIT_OR_AT = re.compile(r"[\d@]")


def _join_window(lines: Sequence[str]) -> str:
    """Join wrapped lines; a trailing '=' is a quoted-printable soft break left undecoded."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if out.endswith("="):
            out = out[:-1] + line
        elif out:
            out = f"{out} {line}"
        else:
            out = line
    return out


def _match_attribution(lines: Sequence[str], start: int) -> tuple[int, str] | None:
    """If an attribution starts at ``start``, return (index of its last line, rule name).

    The cost per line is bounded whatever the line holds: windows longer than
    :data:`_MAX_ATTRIBUTION_CHARS` are not read, a window is only matched when it ends as an
    attribution must, and each pattern only when its verb is in the window.
    """
    stripped = lines[start].strip()
    if len(stripped) > _MAX_ATTRIBUTION_CHARS:
        return None
    first = stripped.lstrip("-–— ").strip()
    if not first:
        return None
    has_digit: bool | None = None  # worked out for the first window that could match
    for extra in range(_MAX_ATTRIBUTION_LINES):
        end = start + extra
        if end >= len(lines) or not lines[end].strip() or quote_depth(lines[end]):
            return None
        window = _join_window(lines[start : end + 1]).strip()
        if len(window) > _MAX_ATTRIBUTION_CHARS:
            return None
        if window[-1] not in _ATTRIBUTION_ENDS:
            continue
        if has_digit is None:
            has_digit = any(ch.isdigit() for ch in first)
        if _DASHED_ON_WROTE.fullmatch(window) and has_digit:
            return end, "on-wrote:en"
        window = window.lstrip("-–— ").strip()
        folded = window.casefold()
        digit_or_at = _DIGIT_OR_AT.search(window) is not None
        for rule in _ATTRIBUTIONS:
            if rule.digit_on_first_line and not has_digit:
                continue
            if not rule.digit_on_first_line and not digit_or_at:
                continue
            if not any(word in folded for word in rule.keywords):
                continue
            if rule.pattern.fullmatch(window):
                if rule.digit_on_first_line or not _matches_later(lines, start, end, rule):
                    return end, rule.name
                return None
    return None


def _matches_later(lines: Sequence[str], start: int, end: int, rule: _Attribution) -> bool:
    """Whether the same rule also matches from a later line: then the window swallowed a line
    of the sender's own text above a name-first attribution ("Thanks" / "Max <m@x> schrieb am").
    """
    for later in range(start + 1, end + 1):
        if lines[later].lstrip().startswith(("<", "(")):
            continue  # an address wrapped onto its own line, not a new attribution
        window = _join_window(lines[later : end + 1]).strip().lstrip("-–— ").strip()
        if _DIGIT_OR_AT.search(window) and rule.pattern.fullmatch(window):
            return True
    return False


# Where a keyword-first attribution may start after the sender's own text on the same line
# ("Figures attached. On Tue, 5 May 2026 Kevin wrote:", "reply--- On Wed, ... wrote:"). Case
# sensitive: a capitalised keyword after a space or a dash, as the clients write it.
_SPLIT_KEYWORD = re.compile(r"(?<=[\s\-])(?:On|Am|Le|El|Em|Il|Op|Den|Dnia|W dniu|Vào|В)\s")
_KEYWORD_FIRST = frozenset(rule.name for rule in _ATTRIBUTIONS if rule.digit_on_first_line)
_NAME_FIRST = frozenset(rule.name for rule in _ATTRIBUTIONS if not rule.digit_on_first_line)
# A line is tried from at most this many keywords: each try reads at most a window.
_MAX_SPLIT_TRIES = 3


def _match_split_attribution(lines: Sequence[str], start: int) -> tuple[int, str, int] | None:
    """(last line, rule name, column) when an attribution starts inside line ``start``.

    Why: people type on the attribution's line ("Figures attached. On Tue, ... wrote:") and
    some clients glue the attribution to the reply ("reply--- On ..."). The text before the
    column is the sender's; the rest is the attribution. Only keyword-first forms are read
    this way: their keyword ("On", "Am", "Le" ...) says where the attribution starts, and the
    digit rule still applies to what follows it. Name-first forms have no such start. The
    cost is bounded: a line is tried from at most :data:`_MAX_SPLIT_TRIES` keywords, each try
    one call of :func:`_match_attribution` on a window of at most four lines.
    """
    line = lines[start]
    if len(line) > _MAX_ATTRIBUTION_CHARS:
        return None
    tries = 0
    for m in _SPLIT_KEYWORD.finditer(line):
        col = m.start()
        while col > 0 and line[col - 1] in " -–—":
            col -= 1
        if not line[:col].strip():
            continue  # nothing before it: the whole line was tried as an attribution
        tries += 1
        window = [line[col:], *lines[start + 1 : start + _MAX_ATTRIBUTION_LINES]]
        hit = _match_attribution(window, 0)
        if hit is not None and hit[1] in _KEYWORD_FIRST:
            return start + hit[0], hit[1], col
        if tries >= _MAX_SPLIT_TRIES:
            break
    return None


# --------------------------------------------------------------------------------------------
# Outlook header blocks, "Original Message" separators
# --------------------------------------------------------------------------------------------

# field -> {language: labels}; a block is named after the language with most labels in it.
_HEADER_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "from": {
        "en": ("from",),
        "de": ("von",),
        "fr": ("de",),
        "es": ("de",),
        "it": ("da",),
        "pt": ("de",),
        "nl": ("van",),
        "sv": ("från",),
        "da": ("fra",),
        "no": ("fra",),
        "pl": ("od",),
        "ru": ("от",),
        "uk": ("від",),
        "ja": ("差出人", "送信者"),
        "fi": ("lähettäjä",),
        "cs": ("od",),
    },
    "sent": {
        "en": ("sent", "date"),
        "de": ("gesendet", "datum"),
        "fr": ("envoyé", "date"),
        "es": ("enviado", "fecha", "enviado el"),
        "it": ("inviato", "data"),
        "pt": ("enviado", "data", "enviada"),
        "nl": ("verzonden", "datum"),
        "sv": ("skickat", "datum"),
        "da": ("sendt", "dato"),
        "no": ("sendt", "dato"),
        "pl": ("wysłano", "data", "wysłane"),
        "ru": ("отправлено", "дата"),
        "uk": ("надіслано", "дата"),
        "ja": ("送信日時", "日付"),
        "fi": ("lähetetty",),
        "cs": ("odesláno", "datum"),
    },
    "to": {
        "en": ("to",),
        "de": ("an",),
        "fr": ("à", "a"),
        "es": ("para",),
        "it": ("a",),
        "pt": ("para",),
        "nl": ("aan",),
        "sv": ("till",),
        "da": ("til",),
        "no": ("til",),
        "pl": ("do",),
        "ru": ("кому",),
        "uk": ("кому",),
        "ja": ("宛先",),
        "fi": ("vastaanottaja",),
        "cs": ("komu",),
    },
    "cc": {
        "en": ("cc", "bcc"),
        "de": ("cc", "kopie"),
        "fr": ("cc", "copie"),
        "es": ("cc",),
        "it": ("cc",),
        "pt": ("cc",),
        "nl": ("cc",),
        "sv": ("kopia", "cc"),
        "da": ("cc",),
        "no": ("kopi", "cc"),
        "pl": ("dw", "cc"),
        "ru": ("копия",),
        "uk": ("копія",),
        "ja": ("cc",),
        "fi": ("kopio",),
        "cs": ("kopie",),
    },
    "subject": {
        "en": ("subject",),
        "de": ("betreff",),
        "fr": ("objet",),
        "es": ("asunto",),
        "it": ("oggetto",),
        "pt": ("assunto",),
        "nl": ("onderwerp",),
        "sv": ("ämne",),
        "da": ("emne",),
        "no": ("emne",),
        "pl": ("temat",),
        "ru": ("тема",),
        "uk": ("тема",),
        "ja": ("件名",),
        "fi": ("aihe",),
        "cs": ("předmět",),
    },
    "reply-to": {
        "en": ("reply-to",),
        "de": ("antwort an",),
        "it": ("risposta", "rispondi a"),
        "fr": ("répondre à",),
        "es": ("responder a",),
    },
}
_LANG_ORDER = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "pl",
    "ru",
    "uk",
    "ja",
    "fi",
    "cs",
)
_HEADER_LINE = re.compile(
    r"^\s*[*_]{0,2}([^\W\d_][\w' -]{0,24}?)[*_]{0,2}\s*[:：]\s*[*_]{0,2}(.*)$"
)
_MAX_HEADER_SPAN = 12


# label -> the first field (in the order above) that has it in some language.
_LABEL_FIELDS: dict[str, str] = {}
for _field, _by_lang in _HEADER_LABELS.items():
    for _labels in _by_lang.values():
        for _label in _labels:
            _LABEL_FIELDS.setdefault(_label, _field)


def _header_field(line: str) -> tuple[str, str] | None:
    """(field, label) if the line is "Label: value" with a known header label."""
    m = _HEADER_LINE.match(line)
    if not m:
        return None
    label = m.group(1).strip().casefold()
    field = _LABEL_FIELDS.get(label)
    return (field, label) if field is not None else None


def _match_header_block(lines: Sequence[str], start: int) -> str | None:
    """Language code if an Outlook-style header block starts at ``start``."""
    first = _header_field(lines[start])
    if first is None or first[0] not in ("from", "sent"):
        return None
    found: list[tuple[str, str]] = [first]
    gap = 0
    for line in lines[start + 1 : start + _MAX_HEADER_SPAN]:
        if not line.strip() or quote_depth(line):
            break
        hit = _header_field(line)
        if hit:
            found.append(hit)
            gap = 0
        else:  # a wrapped header value; more than two in a row is body text
            gap += 1
            if gap > 2:
                break
    fields = {field for field, _ in found}
    if "from" not in fields or len(fields & {"sent", "to", "cc", "subject", "reply-to"}) < 2:
        return None
    if not ({"to", "subject"} & fields):
        return None

    def score(lang: str) -> int:
        return sum(label in _HEADER_LABELS[field].get(lang, ()) for field, label in found)

    return max(_LANG_ORDER, key=lambda lang: (score(lang), -_LANG_ORDER.index(lang)))


_ORIGINAL_MESSAGE = re.compile(
    r"\s*-{2,}\s*(?:original message|ursprüngliche nachricht|originalnachricht|mensaje original"
    r"|message d'origine|message original|messaggio originale|oorspronkelijk bericht"
    r"|origineel bericht|mensagem original|originalmeddelande|ursprungligt meddelande"
    r"|oprindelig meddelelse|opprinnelig melding|oryginalna wiadomość|wiadomość oryginalna"
    r"|исходное сообщение|původní zpráva|alkuperäinen viesti|oprindelig besked"
    # Some webmails (and talon's list) write a "Reply Message" separator instead.
    r"|reply message|antwort nachricht)\s*-{2,}\s*",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|mensagem encaminhada|messaggio inoltrato|doorgestuurd bericht"
    r"|videresendt melding|vidarebefordrat meddelande|пересылаемое сообщение)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:)\s*",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"\s*(?:[_]{5,}|-{5,}|={5,}|\*{5,})\s*")


# --------------------------------------------------------------------------------------------
# Signatures, footers, disclaimers, banners
# --------------------------------------------------------------------------------------------

_MOBILE_SIGNATURE = re.compile(
    r"""\s*(?:
        sent\s(?:from|via|with|using)\s(?:my|a|an)\s.{1,80}
      | sent\s(?:from|via|with|using)\s(?!(?:the|our|your|his|her|their|this|that)\b)
            [^,.;:!?]{1,40}
      | sent\sfrom\s\[.{1,100}
      | (?:\(|<<)\s*sent\s(?:from|by|via)\s[^)>]{1,40}(?:\)|>>)
      | (?:get|download)\s(?:\[)?outlook\sfor\s.{1,80}
      | sent\s(?:from|with)\s(?!(?:the|our|your|his|her|their|this|that)\b)
            [\w ]{1,40}<https?://[^>\s]{1,200}>
      | envoyé\s(?:depuis|de|à\spartir\sde|avec)\s.{1,80}
      | von\smeinem\s.{1,60}\sgesendet\.?
      | gesendet\s(?:von|mit|vom)\s.{1,80}
      | diese\snachricht\swurde\svon\smeinem\s.{1,80}\sgesendet\.?
      | sendt\s(?:fra|från)\s.{1,80}
      | skickat\sfrån\s.{1,80}
      | verzonden\s(?:vanaf|met|van)\s.{1,80}
      | verstuurd\s(?:vanaf|met|van)\s.{1,80}
      | enviado\s(?:desde|do|de|con|com)\s.{1,80}
      | inviato\s(?:da|dal|con)\s.{1,80}
      | wysłane\s(?:z|ze)\s.{1,80}
      | отправлено\s(?:с|из)\s.{1,80}
      | 從我的\s?.{1,40}傳送
      | 从我的\s?.{1,40}发送
      | .{1,30}から送信
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_DASH_SIGNATURE = re.compile(r"--\s*")
# A sign-off of one name (or a first and last name) glued to a dash or one or two slashes:
# "-Abhishek Kona", "/John", "//Jef". No space after the mark (that is a list item), no digit
# (that is a negative number), and the name starts with a capital (see _is_sign_off).
_SIGN_OFF = re.compile(r"(?:-|/{1,2})([^\W\d_][\w.'’-]{0,30}(?:\s[^\W\d_][\w.'’-]{0,30})?)")
_MAX_SIGNATURE_LINES = 10
# A rule cut short ("__": a list footer's separator after a client re-wrapped it); only a
# separator right above a list footer line, never on its own.
_SHORT_RULE = re.compile(r"\s*(?:_{2,}|-{2,}|={2,})\s*")
_MAILING_LIST = re.compile(r"mailing list|mailman/listinfo|listinfo/", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"intended (?:solely )?(?:only )?(?:for the )?(?:use of the )?(?:named )?"
    r"(?:addressee|recipient)"
    r"|intended solely for|received this (?:e-?mail|message|communication) in error"
    r"|(?:is|are|be) (?:strictly )?confidential|privileged|legally protected"
    r"|virus(?:es)?\b|disclaimer|do not (?:print|copy|disclose)|prohibited"
    r"|e-?mail (?:communications|messages?) (?:are|may be) monitored",
    re.IGNORECASE,
)
# Longer than any legal footer: a paragraph past it is the sender's own text, and is not
# searched for disclaimer words (which costs a quarter of a second a megabyte).
_MAX_DISCLAIMER_CHARS = 10_000
_DISCLAIMER_STRONG = re.compile(
    r"intended recipient|intended solely for|received this (?:e-?mail|message|communication) in"
    r" error|not the intended|confidential(?:ity)? (?:notice|statement)",
    re.IGNORECASE,
)
_BANNER_START = re.compile(
    r"\s*[\[*]*(?:caution|warning|external|attention|notice|important)\b", re.IGNORECASE
)
_BANNER_TEXT = re.compile(
    r"originated (?:from )?outside|external (?:sender|email|e-mail|message)|outside (?:of )?"
    r"(?:the|this|our|your) (?:organi[sz]ation|company|council|authority)",
    re.IGNORECASE,
)
_BANNER_WHOLE = re.compile(
    r"\s*\[?external(?: email| e-mail| sender| message)?\]?\s*"
    r"|\s*you don't often get email from .*",
    re.IGNORECASE,
)


def _is_banner(line: str) -> bool:
    """An external-sender warning that the recipient's gateway put on top of the message."""
    return _BANNER_WHOLE.fullmatch(line) is not None or (
        _BANNER_START.match(line) is not None and _BANNER_TEXT.search(line) is not None
    )


def _is_mobile_signature(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped) <= 120 and _MOBILE_SIGNATURE.fullmatch(stripped) is not None


def _is_sign_off(line: str) -> bool:
    m = _SIGN_OFF.fullmatch(line.strip())
    return m is not None and m.group(1)[0].isupper()


def _is_separator(line: str) -> bool:
    return _SEPARATOR.fullmatch(line) is not None


# --------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------


@dataclass
class _Scan:
    lines: list[str]
    quoted: list[bool]
    new: list[bool]
    boundary: str | None = None
    cut: int | None = None  # first line of an unprefixed quoted original, if there is one
    history: int | None = None  # first line of older messages below that original
    #: Line -> column: the sender's text ends there and an attribution starts (the line
    #: counts as new; the split shows in :func:`split_reply`'s two texts).
    partial: dict[int, int] = field(default_factory=dict)


def _quoted_flags(lines: Sequence[str]) -> list[bool]:
    """Quote flags, with quoted-printable soft breaks ("...=" then a bare tail) kept quoted."""
    flags = [quote_depth(line) > 0 for line in lines]
    for i in range(1, len(lines)):
        if not flags[i] and flags[i - 1] and lines[i].strip() and lines[i - 1].endswith("="):
            flags[i] = True
    return flags


def _next_content(scan: _Scan, start: int) -> int | None:
    for j in range(start, len(scan.lines)):
        if scan.lines[j].strip() and not _is_separator(scan.lines[j]):
            return j
    return None


def _structural_at(scan: _Scan, i: int) -> tuple[str, int, bool] | None:
    """(rule, last line, original-is-unquoted) when a structural boundary starts at line i."""
    lines = scan.lines
    if _ORIGINAL_MESSAGE.fullmatch(lines[i]):
        return "original-message", i, True
    if _FORWARDED.fullmatch(lines[i]):
        return "forwarded-message", i, True
    lang = _match_header_block(lines, i)
    if lang:
        return f"outlook-header-block:{lang}", i, True
    hit = _match_attribution(lines, i)
    if hit:
        end, name = hit
        nxt = _next_content(scan, end + 1)
        unquoted_original = nxt is not None and not scan.quoted[nxt]
        return f"attribution:{name}", end, unquoted_original
    return None


def _signature_cuts(scan: _Scan, i: int) -> bool:
    """A mobile signature on its own with more unquoted text below it ends the new text."""
    lines = scan.lines
    if not _is_mobile_signature(lines[i]):
        return False
    if i > 0 and lines[i - 1].strip() and not _is_mobile_signature(lines[i - 1]):
        return False
    below = lines[i + 1] if i + 1 < len(lines) else ""
    if below.strip() and not _is_separator(below) and not _is_mobile_signature(below):
        return False
    nxt = _next_content(scan, i + 1)
    if nxt is None or scan.quoted[nxt]:
        return False
    return _structural_at(scan, nxt) is None


def _find_boundaries(scan: _Scan, checkpoint: Checkpoint = _no_checkpoint) -> None:
    """Mark new lines up to the first boundary that cuts off everything after it."""
    lines, n = scan.lines, len(scan.lines)
    i = 0
    cut = n
    while i < n:
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            checkpoint()
        if scan.quoted[i] or not lines[i].strip():
            i += 1
            continue
        found = _structural_at(scan, i)
        # A name-first form matched the whole line may have swallowed the sender's text
        # before a keyword-first attribution ("reply On Wed, ..., bob@x wrote:"): the
        # keyword says where the attribution starts, so it wins.
        split = None
        if found is None or found[0].removeprefix("attribution:") in _NAME_FIRST:
            split = _match_split_attribution(lines, i)
        if split:
            end, name, col = split
            scan.partial[i] = col
            scan.boundary = scan.boundary or f"attribution:{name}"
            for k in range(i + 1, end + 1):
                scan.quoted[k] = True
            nxt = _next_content(scan, end + 1)
            if nxt is None or scan.quoted[nxt]:  # a '>' quote follows: only the attribution
                i = end + 1
                continue
            cut = end + 1
            break
        if found:
            rule, end, unquoted_original = found
            scan.boundary = scan.boundary or rule
            if not unquoted_original:  # a '>' quote follows: only the attribution goes
                for k in range(i, end + 1):
                    scan.quoted[k] = True
                i = end + 1
                continue
            cut = i
            # Outlook puts a separator line ("_____") above its header block: it goes too.
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j >= 0 and _is_separator(lines[j]) and not scan.quoted[j]:
                cut = j
            break
        if _signature_cuts(scan, i):
            scan.boundary = scan.boundary or "signature:mobile"
            cut = i
            break
        i += 1
    for k in range(cut):
        scan.new[k] = not scan.quoted[k]
    if cut < n:
        scan.cut = cut
        scan.history = _history_start(scan, cut, checkpoint)


def _history_start(scan: _Scan, cut: int, checkpoint: Checkpoint = _no_checkpoint) -> int:
    """Where older messages start below the unprefixed original that begins at ``cut``.

    Outlook quotes a whole thread unprefixed, one header block per message; only the first
    message is the one being answered. Its own header block (up to the first blank line) is
    skipped before looking for the next boundary.
    """
    lines, n = scan.lines, len(scan.lines)
    start = cut
    while start < n and lines[start].strip():
        start += 1
    for k in range(start, n):
        if k % CHECK_EVERY == CHECK_EVERY - 1:
            checkpoint()
        if quote_depth(lines[k]) or not lines[k].strip():
            continue
        if _structural_at(scan, k):
            above = k - 1
            while above > start and not lines[above].strip():
                above -= 1
            return above if above >= start and _is_separator(lines[above]) else k
    return n


def _new_indices(scan: _Scan) -> list[int]:
    return [k for k, is_new in enumerate(scan.new) if is_new and scan.lines[k].strip()]


def _trim_leading_banner(scan: _Scan) -> bool:
    idx = _new_indices(scan)
    if not idx or not _is_banner(scan.lines[idx[0]]):
        return False
    k = idx[0]
    while k < len(scan.lines) and scan.new[k] and scan.lines[k].strip():
        scan.new[k] = False
        k += 1
    return True


def _is_disclaimer(text: str) -> bool:
    return _DISCLAIMER_STRONG.search(text) is not None or (
        len(text) >= 150 and len(_DISCLAIMER.findall(text)) >= 2
    )


class _Tail:
    """The end of the sender's text, as the trimmers cut it: linear however often they cut.

    The trimmers look at the *tail block* (the last run of new lines, ending at the last new
    line with text) and cut a suffix of it, again and again until none fires. Recomputing the
    block and clearing to the end of the text after every cut made that quadratic: 8,000
    ``-- `` lines cost 7.5 s (issue 12). Here the block's lines with text are a stack that
    cuts pop, each line is cleared once, and a block is loaded once (the next block up is
    loaded only when a cut has emptied this one), so all the cuts of one message together
    cost time linear in its lines. Each trimmer reads a bounded number of lines from the end
    (the disclaimer trimmer: the trailing paragraphs it may cut, and one more).
    """

    def __init__(self, scan: _Scan) -> None:
        self.scan = scan
        #: Lines with text in the tail block, in order; ``para[i]`` is the position in
        #: ``lines`` of the first line of ``lines[i]``'s paragraph, ``chars[i]`` the length
        #: of the stripped lines up to and including ``lines[i]``.
        self.lines: list[int] = []
        self.para: list[int] = []
        self.chars: list[int] = []
        self.block_start = len(scan.lines)
        self._cleared = len(scan.lines)  # every line from here on is no longer new
        # Paragraph start -> the last line up to which it is known not to be a disclaimer,
        # and the first line in it that is not a separator (None: all separators so far).
        self._not_disclaimer: dict[int, int] = {}
        self._first_text: dict[int, int | None] = {}
        self._load(len(scan.lines))

    def _load(self, below: int) -> None:
        """Make the last run of new lines above line ``below`` the tail block."""
        new, lines = self.scan.new, self.scan.lines
        last = below - 1
        while last >= 0 and not (new[last] and lines[last].strip()):
            last -= 1
        first = last
        while first > 0 and new[first - 1]:
            first -= 1
        self.block_start = max(first, 0)
        self.lines, self.para, self.chars = [], [], []
        total = 0
        for k in range(self.block_start, last + 1):
            stripped = lines[k].strip()
            if stripped:
                joined = bool(self.lines) and self.lines[-1] == k - 1
                self.para.append(self.para[-1] if joined else len(self.lines))
                self.lines.append(k)
                total += len(stripped) + 1
                self.chars.append(total)

    def cut(self, start: int) -> None:
        """No line from ``start`` on is new, nor the blank and separator lines just above."""
        new, lines = self.scan.new, self.scan.lines
        for k in range(start, self._cleared):
            new[k] = False
        k = start - 1
        # Separator lines left dangling above the cut belong to what was cut.
        while k >= 0 and new[k] and (not lines[k].strip() or _is_separator(lines[k])):
            new[k] = False
            k -= 1
        self._cleared = min(self._cleared, k + 1)
        while self.lines and self.lines[-1] > k:
            self.lines.pop()
            self.para.pop()
            self.chars.pop()
        if not self.lines:
            self._load(self.block_start)

    def is_disclaimer(self, first: int, last: int) -> bool:
        """Is the paragraph ``first``..``last`` (positions in ``lines``) legal boilerplate?

        One longer than :data:`_MAX_DISCLAIMER_CHARS` is not (its length is a difference of
        running totals). Cuts only ever shorten a paragraph from its end, and both disclaimer
        patterns find in the first lines of a paragraph no more than in the whole of it (no
        lookahead, no match that the next line could extend), so a paragraph the patterns
        found no disclaimer in has none after a cut either: it is read once, not after
        every cut.
        """
        start, end = self.lines[first], self.lines[last]
        before = self.chars[first - 1] if first else 0
        if self.chars[last] - before > _MAX_DISCLAIMER_CHARS:
            return False
        if self._not_disclaimer.get(start, -1) >= end:
            return False
        text = " ".join(self.scan.lines[k].strip() for k in self.lines[first : last + 1])
        if _is_disclaimer(text):
            return True
        self._not_disclaimer[start] = end
        return False

    def all_separators(self, first: int, last: int) -> bool:
        """Is every line of the paragraph ``first``..``last`` a separator?

        The paragraph is read once: where its first line that is no separator stands does
        not change when lines are cut from its end.
        """
        start = self.lines[first]
        if start not in self._first_text:
            text_at: int | None = None
            pos = first
            while pos < len(self.lines) and self.para[pos] == first:
                if not _is_separator(self.scan.lines[self.lines[pos]]):
                    text_at = self.lines[pos]
                    break
                pos += 1
            self._first_text[start] = text_at
        text_at = self._first_text[start]
        return text_at is None or text_at > self.lines[last]


def _trim_mobile_signature(tail: _Tail) -> bool:
    block, lines = tail.lines, tail.scan.lines
    if not block or not _is_mobile_signature(lines[block[-1]]):
        return False
    pos = len(block) - 1
    while pos > 0 and _is_mobile_signature(lines[block[pos - 1]]):
        pos -= 1
    tail.cut(block[pos])
    return True


def _trim_dash_signature(tail: _Tail) -> bool:
    """A "-- " line with at most :data:`_MAX_SIGNATURE_LINES` lines of text below it."""
    block, lines = tail.lines, tail.scan.lines
    for pos in range(max(1, len(block) - 1 - _MAX_SIGNATURE_LINES), len(block)):
        if _DASH_SIGNATURE.fullmatch(lines[block[pos]]):
            tail.cut(block[pos])
            return True
    return False


def _trim_sign_off(tail: _Tail) -> bool:
    """A one-name sign-off ("-Name", "/Name") as the last line, below some text of its own.

    Why: it is a signature, not commentary (issue 13): a general comment of "-Abhishek" is
    noise in the register. Only the last line is read; a reply that is nothing but the
    sign-off keeps it.
    """
    block, lines = tail.lines, tail.scan.lines
    if len(block) < 2 or not _is_sign_off(lines[block[-1]]):
        return False
    tail.cut(block[-1])
    return True


def _trim_mailing_list_footer(tail: _Tail) -> bool:
    """A separator, then a list footer, within the last six lines of text."""
    block, lines = tail.lines, tail.scan.lines
    for pos in range(max(0, len(block) - 6), len(block) - 1):
        above = lines[block[pos]]
        if (_is_separator(above) or _SHORT_RULE.fullmatch(above)) and _MAILING_LIST.search(
            lines[block[pos + 1]]
        ):
            tail.cut(block[pos])
            return True
    return False


def _trim_disclaimer(tail: _Tail) -> bool:
    """Cut the trailing paragraphs when all of them are legal boilerplate or separators.

    The first paragraph of the block is never cut: it is what the sender wrote.
    """
    cut: int | None = None
    last = len(tail.lines) - 1
    while last >= 0:
        first = tail.para[last]
        if first == 0:
            break
        if tail.all_separators(first, last):
            last = first - 1
            continue
        if not tail.is_disclaimer(first, last):
            break
        cut = first
        last = first - 1
    if cut is None:
        return False
    tail.cut(tail.lines[cut])
    return True


_TRIMMERS: tuple[tuple[str, Callable[[_Tail], bool]], ...] = (
    ("signature:mobile", _trim_mobile_signature),
    ("signature:dashes", _trim_dash_signature),
    ("signature:sign-off", _trim_sign_off),
    ("footer:mailing-list", _trim_mailing_list_footer),
    ("disclaimer", _trim_disclaimer),
)


#: The last text analysed and its scan: the pipeline asks for the same reply's lines (the
#: form reader) and its split (the answer text) one after the other. One entry, replaced
#: whole, so threads sharing it see either the old pair or the new one.
_LAST_SCAN: tuple[str, _Scan] | None = None


def _analyse(text: str, checkpoint: Checkpoint = _no_checkpoint) -> _Scan:
    """The scan of ``text``: quote flags, boundaries, then the trimmers. Read only after."""
    global _LAST_SCAN
    text = normalise_text(text)
    last = _LAST_SCAN
    if last is not None and last[0] == text:
        return last[1]
    lines = text.split("\n")
    quoted = _quoted_flags(lines)
    scan = _Scan(lines=lines, quoted=quoted, new=[False] * len(lines))
    _find_boundaries(scan, checkpoint)
    checkpoint()
    if scan.boundary is None and any(quoted):
        scan.boundary = "quote-prefix"
    trimmed: list[str] = []
    tail = _Tail(scan)
    changed = True
    rounds = 0
    while changed:
        changed = False
        for name, trim in _TRIMMERS:
            if trim(tail):
                trimmed.append(name)
                changed = True
        rounds += 1
        if rounds % CHECK_EVERY == 0:
            checkpoint()
    if _trim_leading_banner(scan):
        trimmed.append("banner:external")
    if scan.boundary is None and trimmed:
        scan.boundary = trimmed[0]
    _LAST_SCAN = (text, scan)
    return scan


def mark_new_lines(text: str, checkpoint: Checkpoint = _no_checkpoint) -> list[bool]:
    """For each line of ``normalise_text(text).split("\\n")``: did the sender write it?

    The line-level view behind :func:`split_reply`, for readers (the form reader) that must
    know where a line sits, not just what the new text says.
    """
    return list(_analyse(text, checkpoint).new)


LineRole = Literal["new", "replied-to", "other"]


def line_roles(text: str, checkpoint: Checkpoint = _no_checkpoint) -> list[LineRole]:
    """For each line of ``normalise_text(text).split("\\n")``: who wrote it.

    ``new``: the sender. ``replied-to``: the message this reply answers, as quoted in it
    (``>`` depth 1, or the unprefixed original up to the next header block or attribution).
    ``other``: attribution lines, trimmed signatures and disclaimers, and older messages
    (deeper ``>`` quotes, earlier messages of an Outlook thread). A form reader takes answers
    typed into the replied-to copy of our form, and never from older messages, where an
    earlier answer of the sender's would otherwise look like a fresh one.
    """
    scan = _analyse(text, checkpoint)
    roles: list[LineRole] = []
    for i, line in enumerate(scan.lines):
        depth = quote_depth(line)
        if scan.new[i]:
            roles.append("new")
        elif scan.cut is not None and scan.history is not None and scan.cut <= i:
            roles.append("replied-to" if depth == 0 and i < scan.history else "other")
        elif depth == 1:
            roles.append("replied-to")
        else:
            roles.append("other")
    return roles


def _collapse_blank_runs(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return out


def _fragments(lines: Sequence[str], mask: Sequence[bool]) -> list[list[str]]:
    frags: list[list[str]] = []
    current: list[str] = []
    for line, keep in zip(lines, mask, strict=True):
        if keep:
            current.append(line.rstrip())
        elif current:
            frags.append(current)
            current = []
    if current:
        frags.append(current)
    out = []
    for frag in frags:
        # Slices, not pop(0): a fragment may open with thousands of blank lines.
        first = next((i for i, line in enumerate(frag) if line), len(frag))
        last = next((i for i in range(len(frag) - 1, first - 1, -1) if frag[i]), first - 1)
        if first <= last:
            out.append(frag[first : last + 1])
    return out


def split_reply(text: str, checkpoint: Checkpoint = _no_checkpoint) -> ReplySplit:
    """Split a reply's decoded plain text into what the sender wrote and the rest.

    ``new_text`` is the sender's unquoted text (several pieces, for bottom-posted or inline
    replies, are joined by a blank line), with common indentation removed, trailing spaces and
    runs of blank lines collapsed. ``quoted_text`` holds every other line, in order. A line
    that the sender typed text on before an attribution ("Figures attached. On ... wrote:") is
    split: the text before it is new, the attribution is quoted.
    """
    scan = _analyse(text, checkpoint)
    shown = list(scan.lines)
    rest: list[str] = []
    for k, line in enumerate(scan.lines):
        col = scan.partial.get(k)
        if not scan.new[k]:
            rest.append(line.rstrip())
        elif col is not None:
            shown[k] = line[:col]
            rest.append(line[col:].strip())
    pieces = ["\n".join(_collapse_blank_runs(frag)) for frag in _fragments(shown, scan.new)]
    new_text = textwrap.dedent("\n\n".join(pieces)).strip()
    quoted_text = "\n".join(rest).strip("\n")
    return ReplySplit(new_text=new_text, quoted_text=quoted_text, boundary=scan.boundary)
