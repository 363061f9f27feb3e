"""Raw message bytes to a :class:`DecodedMessage`: headers, the body as text, attachments.

People answer our forms from every mail client there is, and some of those clients (and the
servers in between) write broken MIME. This module turns whatever arrives into one predictable
shape and never raises on bad input, except for the three resource limits in :class:`Limits`
(:class:`MessageTooLarge`, :class:`MimeTooDeep`). What was malformed, and how we coped, is listed
in ``DecodedMessage.defects`` so an operator can see why a reply parsed oddly.

Choices, and why:

* **Parser.** The stdlib ``email`` package with a :class:`~email.policy.Compat32` subclass that
  hands header values back exactly as written. ``policy=default`` builds a structured header
  object for every header it touches (a full RFC 5322 grammar parse): parsing a 6-7 KB reply
  took 1.5-2.6 ms with it and 0.26-0.36 ms with compat32 (measured here), and 2.6-4.8 ms once
  every header and the body had been read through its objects. The whole of
  :func:`decode_message` takes 0.4-0.8 ms for such a reply. compat32 also never turns a raw
  8-bit header into an ``email.header.Header``. Header decoding (RFC 2047, raw 8-bit,
  addresses, dates) is done here, where we control the fallbacks.
* **Line endings.** CRLF and bare CR are rewritten to LF *before* parsing, so a classic-Mac
  message (bare CR) splits into headers and body, and decoded text always uses ``\\n``.
* **Charsets.** A declared charset is honoured when it decodes cleanly. ``iso-8859-1`` and
  ``us-ascii`` labels decode as windows-1252, as the WHATWG Encoding Standard and every browser
  do (Outlook labels windows-1252 text as latin-1). When the label is missing, unknown
  (``none``, ``unknown-8bit``) or wrong (decode errors), we try strict UTF-8 and then
  **charset-normalizer** (maintained, pure Python, no C build, better than chardet on short
  European text). It is restricted to a list of charsets plausible for mail, and ties are broken
  towards the charsets UK correspondents use, because on a dozen bytes of Cyrillic its
  unrestricted guess is usually a CJK codec. Every guess is recorded (``charset_guessed``).
* **HTML.** **inscriptis** converts HTML-only bodies: it lays tables out row by row (a form
  table row stays on one line, so ``[CODE] label: value`` survives), drops ``<style>`` and
  ``<script>``, and emits plain text, not Markdown (html2text would escape ``[`` and ``*`` and
  render tables as pipes). We then collapse its column padding.
* **format=flowed** (RFC 3676) is un-flowed here; it is twenty lines and no maintained library
  does only that.
* **Body selection.** The first readable text in MIME order: in ``multipart/alternative`` plain
  beats HTML (our forms are plain-text first, and the plain part is what the person typed);
  in ``multipart/mixed`` every inline ``text/plain`` part is joined, because iPhone Mail splits
  one reply around an inline picture; ``message/rfc822``, ``winmail.dat``, the returned message
  and status parts of a ``multipart/report`` and anything with ``Content-Disposition:
  attachment`` are attachments, never body.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape as _unescape_html

__all__ = [
    "DEFAULT_LIMITS",
    "TRACE_HEADERS",
    "TRACE_HEADER_PREFIXES",
    "AttachmentInfo",
    "DecodedMessage",
    "Limits",
    "MessageTooLarge",
    "MimeTooDeep",
    "clean_text",
    "decode_message",
    "decode_rfc2047",
    "html_to_text",
    "normalise_message_id",
    "parse_mime",
    "stored_payload",
    "strip_trace_headers",
    "unflow",
]


# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Resource limits, and caps on the work one message may cost.

    A message beyond the first three is refused rather than half-read. ``max_depth`` counts
    nesting below the top-level message (each multipart or attached message adds one level);
    ``max_parts`` counts every MIME entity, the message included.

    The caps after them bound what is *read* of a message that is accepted (issue 12: one
    small message stalled the service for minutes). Past a cap only the first part is read
    (the first lines, the first characters of a line, the first text parts, the start of an
    HTML body), and :attr:`DecodedMessage.truncated` says what was left, in words the
    sender can read ("only the first 10,000 lines of the message were read"); the same
    notes open ``defects``, so they reach the message's audit trail. Each cap is far above
    what a real reply needs; tests lower them.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_depth: int = 20
    max_parts: int = 500
    #: Lines of the raw message given to the stdlib parser.
    max_raw_lines: int = 500_000
    #: Lines of body text read, characters read of one line, and characters read in all.
    max_lines: int = 10_000
    max_line_chars: int = 10_000
    max_text_chars: int = 1_000_000
    #: Of an HTML body (a reply with no plain text): characters and tags given to the
    #: converter, which costs about 20 microseconds a table cell.
    max_html_chars: int = 1_000_000
    max_html_tags: int = 20_000
    #: Inline text parts joined into the body (iPhone Mail splits a reply round pictures).
    max_text_parts: int = 100
    #: Header fields read, and characters read of one field's value.
    max_header_fields: int = 1_000
    max_header_chars: int = 65_536
    #: Message ids read from In-Reply-To, and from References (its first and last halves:
    #: the thread's first message and the latest ones).
    max_references: int = 100
    #: Bytes kept of the attachments that may be spreadsheets (a filled-in form), all of
    #: them together: one past the budget is noted, not kept.
    max_sheet_bytes: int = 5 * 1024 * 1024


#: The limits used when a caller gives none.
DEFAULT_LIMITS = Limits()


class MessageTooLarge(ValueError):
    """The raw message, or its number of MIME parts, is over the :class:`Limits`."""


class MimeTooDeep(ValueError):
    """The MIME tree nests deeper than :attr:`Limits.max_depth`."""


@dataclass(frozen=True)
class AttachmentInfo:
    """A part that is not the body: kept as a note, never read as text.

    ``data``: the decoded bytes of an attachment that may be a spreadsheet (by its name or
    type: a reply may carry our form filled in), within ``Limits.max_sheet_bytes`` for all
    of them together; None for anything else, or one past that (which the confirmation
    names as too large to read).
    """

    filename: str | None
    content_type: str
    size: int
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DecodedMessage:
    """Everything later stages need from one message, decoded and normalised."""

    message_id: str | None
    raw_message_id: str | None
    from_address: str | None
    from_name: str | None
    sender_address: str | None
    reply_to: list[str]
    to: list[str]
    cc: list[str]
    delivered_to: list[str]
    x_original_to: list[str]
    envelope_to: list[str]
    subject: str
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    headers: tuple[tuple[str, str], ...]
    text: str
    text_source: str
    html: str | None
    charset_used: str | None
    charset_guessed: bool
    attachments: list[AttachmentInfo] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    #: What was not read because of a cap in :class:`Limits` (also first in ``defects``).
    truncated: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), decoded; None if absent."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every header called ``name`` (case-insensitive), decoded, in message order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


# --------------------------------------------------------------------------------------------
# Text cleaning
# --------------------------------------------------------------------------------------------

# C0 controls except TAB (0x09) and LF (0x0A), and lone surrogates (CR is turned into LF
# before this applies).
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def clean_text(s: str) -> str:
    """Text safe to store and to match against.

    PostgreSQL TEXT refuses NUL, and other C0 controls (form feeds, stray ESCs from a mis-decoded
    ISO-2022 part, backspaces) only confuse the form parser. A lone surrogate (what UTF-7 or a
    stray surrogate-escaped byte can leave) cannot be encoded for either database. CRLF and
    bare CR become LF first, so a bare-CR line break is kept as a line break rather than deleted.
    """
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSTORABLE.sub("", s)


def _one_line(s: str) -> str:
    """A header value on one line: newlines and tabs become spaces, controls go."""
    return clean_text(s).replace("\n", " ").replace("\t", " ").strip()


# --------------------------------------------------------------------------------------------
# Charsets
# --------------------------------------------------------------------------------------------

# Labels that say nothing: treat as if no charset were declared.
_NO_CHARSET = frozenset(
    {"", "none", "unknown", "unknown-8bit", "x-unknown", "x-user-defined", "default", "charset"}
)

# Labels that mail clients use loosely; WHATWG maps them to the superset browsers decode with.
_LABEL_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso8859-8",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
}

# Labels under which real-world senders often put UTF-8 bytes by mistake.
_LATIN_LABELS = frozenset(
    {
        "iso-8859-1",
        "iso8859-1",
        "iso_8859-1",
        "latin1",
        "latin-1",
        "l1",
        "us-ascii",
        "ascii",
        "ansi_x3.4-1968",
        "windows-1252",
        "cp1252",
        "iso-8859-15",
    }
)
_ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968"})

# Candidates offered to charset-normalizer, in tie-break order (most likely for UK mail first).
_GUESS_ORDER = (
    "utf_8",
    "cp1252",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "cp1251",
    "koi8_r",
    "iso8859_5",
    "cp1253",
    "iso8859_7",
    "cp1254",
    "cp1257",
    "gb18030",
    "big5",
    "cp932",
    "euc_jp",
    "cp949",
    "cp1255",
    "cp1256",
    "cp874",
)
_GUESS_RANK = {name: i for i, name in enumerate(_GUESS_ORDER)}

_ISO2022_ESCAPE = re.compile(rb"\x1b(?:\$[@B]|\$\(D|\(J|\(I)")
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _label(declared: str | None) -> str:
    return (declared or "").strip().strip("\"'").strip().lower()


#: Text codecs Python has that no sender means as a charset: escapes of Python string
#: literals (which can make lone surrogates), host-name encodings that rewrite ASCII, and
#: ``undefined`` (which always raises).
_NOT_MAIL_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined"}
)


def _codec_for(label: str) -> str | None:
    """The Python codec for a charset label; None when it is no charset we can decode with.

    Only text encodings count: Python also registers bytes-to-bytes codecs (``zlib``,
    ``base64``, ``hex``, ``rot13``, ``bz2``, ``uu``, ``quopri``) under names a hostile sender
    can write as a charset, and ``bytes.decode`` refuses them with LookupError.
    """
    name = _LABEL_ALIASES.get(label, label)
    if not name.isascii() or not name.isprintable() or len(name) > 40:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # CodecInfo._is_text_encoding is how the codecs module itself tells the two kinds apart.
    if not info._is_text_encoding or info.name in _NOT_MAIL_CHARSETS:
        return None
    return info.name


def _is_codec(label: str) -> bool:
    """True when Python has a codec by this name, text encoding or not."""
    name = _LABEL_ALIASES.get(label, label)
    if not name.isprintable() or len(name) > 40:
        return False
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):
        return False
    return True


def _refused_charset(label: str, where: str) -> str:
    """The defect for a declared charset :func:`_codec_for` refused, saying which kind."""
    if _is_codec(label):
        return f"{where}: charset {label!r} is not a text charset"
    return f"{where}: unknown charset {label!r}"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """True when the 8-bit bytes are nearly all well-formed UTF-8 (a few bytes mangled)."""
    sequences = _UTF8_SEQUENCE.findall(data)
    if len(sequences) < 2:
        return False
    covered = sum(len(seq) for seq in sequences)
    high = sum(1 for b in data if b >= 0x80)
    return (high - covered) * 4 <= len(sequences)


def _cyrillic_case_vote(data: bytes) -> str:
    """KOI8-R or windows-1251 for a few bytes of Cyrillic that charset-normalizer cannot tell.

    The two put upper and lower case in opposite halves of 0xC0-0xFF; running text is mostly
    lower case, so the half that holds most letters tells the charset (the classic Russian
    mail heuristic). A one-word subject is too short for any statistical detector.
    """
    low_half = sum(1 for b in data if 0xC0 <= b <= 0xDF)
    high_half = sum(1 for b in data if b >= 0xE0)
    return "koi8_r" if low_half > high_half else "cp1251"


def _guess_charset(data: bytes, context: bytes = b"") -> tuple[str, str] | None:
    """charset-normalizer's best reading of ``data`` among :data:`_GUESS_ORDER`, or None.

    ``context`` is more text believed to share the charset (the raw 8-bit headers of the same
    message); it only informs the guess.
    """
    from charset_normalizer import from_bytes  # only for the few parts that need a guess

    sample = data + b"\n" + context if context else data
    try:
        results = from_bytes(sample, cp_isolation=list(_GUESS_ORDER))
    except Exception:  # a detector failure must never lose the message
        return None
    matches = list(results)
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    best_name: str | None = None
    best_rank = len(_GUESS_ORDER)
    tied: set[str] = set()
    for match in matches:
        if match.chaos > least_chaos + 0.01:
            continue
        for name in [match.encoding, *match.could_be_from_charset]:
            tied.add(name)
            rank = _GUESS_RANK.get(name, len(_GUESS_ORDER))
            if rank < best_rank:
                best_name, best_rank = name, rank
    if best_name in ("cp1251", "koi8_r") and {"cp1251", "koi8_r"} <= tied:
        best_name = _cyrillic_case_vote(sample)
    if best_name is None:
        best_name = matches[0].encoding
    try:
        return data.decode(best_name), codecs.lookup(best_name).name
    except (UnicodeError, LookupError):
        return None


def _fallback_decode(data: bytes, context: bytes = b"") -> tuple[str, str]:
    """Decode bytes with no usable label: UTF-8, nearly-UTF-8, a guess, then windows-1252."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8", "replace"), "utf-8"
    guessed = _guess_charset(data, context) or (_guess_charset(data) if context else None)
    if guessed is not None:
        return guessed
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _decode_bytes(
    data: bytes, declared: str | None, defects: list[str], where: str, context: bytes = b""
) -> tuple[str, str | None, bool]:
    """Bytes to text honouring ``declared`` when it fits; returns (text, charset, guessed).

    ``context`` (other undeclared 8-bit text of the same message) only helps a guess.
    """
    label = _label(declared)
    if not data:
        return "", label or None, False
    codec = _codec_for(label) if label not in _NO_CHARSET else None
    if codec is None and label not in _NO_CHARSET:
        defects.append(_refused_charset(label, where))
    if data.isascii():
        if codec is not None:
            try:
                return data.decode(codec), label, False
            except UnicodeError:  # UnicodeDecodeError, or a codec's own (UTF-7, UTF-16)
                defects.append(f"{where}: text does not decode as declared charset {label!r}")
        if _ISO2022_ESCAPE.search(data):
            try:
                text = data.decode("iso2022_jp_ext")
            except UnicodeDecodeError:
                pass
            else:
                defects.append(f"{where}: undeclared ISO-2022-JP text")
                return text, "iso2022_jp_ext", True
        return data.decode("ascii"), label if codec else "us-ascii", False
    if codec is not None:
        if label in _LATIN_LABELS and _is_utf8(data):
            defects.append(f"{where}: declared charset {label!r} but the text is UTF-8")
            return data.decode("utf-8"), "utf-8", True
        try:
            return data.decode(codec), label, label in _ASCII_LABELS
        except UnicodeError:
            if codec == "cp1252":  # five bytes cp1252 leaves undefined: read them as latin-1
                return data.decode("latin-1"), label, label in _ASCII_LABELS
            defects.append(f"{where}: text does not decode as declared charset {label!r}")
    text, used = _fallback_decode(data, context)
    defects.append(f"{where}: charset guessed as {used}")
    return text, used, True


# --------------------------------------------------------------------------------------------
# Headers: raw 8-bit, RFC 2047, addresses, message-ids, dates
# --------------------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_WHITESPACE = re.compile(r"\s+")


def _b64_header(text: str) -> bytes | None:
    compact = _WHITESPACE.sub("", text).rstrip("=")
    if len(compact) % 4 == 1:
        compact = compact[:-1]
    compact += "=" * (-len(compact) % 4)
    try:
        return binascii.a2b_base64(compact.encode("ascii", "ignore"))
    except binascii.Error:
        return None


def decode_rfc2047(value: str, defects: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words, tolerating what real senders write.

    Adjacent encoded words in one charset are decoded together (UTF-8 characters are often split
    across words); whitespace between encoded words is dropped as the RFC says; a bad charset
    (``=?NONE?B?...?=``, an unknown name) falls back to UTF-8 or a guess, and bad base64 padding
    is repaired. A word whose "charset" is a codec but no text encoding (``=?zlib?B?eJw=?=``,
    base64, hex, rot13...) is left as written, never decoded through it. Each fallback is noted
    in ``defects``. ``email.header.decode_header`` is not used: it raises on bad padding and
    mangles non-ASCII text outside the encoded words.
    """
    if "=?" not in value:
        return value
    notes = defects if defects is not None else []
    out: list[str] = []
    pending = b""
    pending_charset = ""
    pos = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending or pending_charset:
            text, _used, _guessed = _decode_bytes(pending, pending_charset, notes, "header")
            out.append(text)
        pending, pending_charset = b"", ""

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (last_was_word and between.isspace()):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        payload = match.group(3)
        if charset not in _NO_CHARSET and _codec_for(charset) is None and _is_codec(charset):
            notes.append(
                f"header: charset {charset!r} is not a text charset; encoded word "
                f"{match.group(0)[:40]!r} left as written"
            )
            flush()
            out.append(match.group(0))
            last_was_word = False
            pos = match.end()
            continue
        if match.group(2) in "bB":
            data = _b64_header(payload)
        else:
            data = binascii.a2b_qp(payload.encode("ascii", "ignore"), header=True)
        if data is None:
            notes.append(f"header: undecodable encoded word {match.group(0)[:40]!r}")
            flush()
            out.append(match.group(0))
            last_was_word = False
        else:
            if charset != pending_charset:
                flush()
                pending_charset = charset
            pending += data
            last_was_word = True
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _raw_header_to_str(value: str, hint: str | None, defects: list[str]) -> str:
    """A header value with raw 8-bit bytes (surrogate-escaped by the parser) as real text.

    Such bytes carry no charset. UTF-8 is tried first (most raw headers today are), then the
    charset the body used (one client wrote both), then a guess.
    """
    if value.isascii():
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # real characters, not escaped bytes: already text
        return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _codec_for(_label(hint)) if hint else None
    if codec and codec not in {"utf-8", "ascii"}:
        try:
            text = data.decode(codec)
        except UnicodeError:
            pass
        else:
            defects.append(f"header: raw 8-bit header read as {codec} (the body's charset)")
            return text
    text, used = _fallback_decode(data)
    defects.append(f"header: raw 8-bit header, charset guessed as {used}")
    return text


def _unfold(value: str) -> str:
    return value.replace("\n", "")


def _decode_header_value(value: str, hint: str | None, defects: list[str]) -> str:
    text = _unfold(_raw_header_to_str(value, hint, defects))
    return _one_line(decode_rfc2047(text, defects))


#: Controls inside an addr-spec (folding whitespace is gone by then), and lone surrogates.
_ADDRESS_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


def _addresses(values: list[str], hint: str | None, defects: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased addr-spec) pairs; empty and unusable addresses dropped."""
    unfolded = [_unfold(_raw_header_to_str(v, hint, defects)) for v in values]
    try:
        pairs = getaddresses(unfolded)
    except Exception:  # getaddresses has raised on pathological input in some releases
        defects.append("header: unparseable address list")
        return []
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        if _ADDRESS_CONTROL.search(addr):
            # Not deleted: "kevin.wal\0sh@..." with the NUL taken out would be somebody's
            # real address. U+FFFD keeps it unmatchable, storable and visibly damaged.
            defects.append("header: control character in an address; shown as U+FFFD")
            addr = _ADDRESS_CONTROL.sub("\ufffd", addr)
        addr = _one_line(addr).strip("<>").strip()
        if not addr or "@" not in addr:
            continue
        out.append((_one_line(decode_rfc2047(name, defects)), addr.lower()))
    return out


_ANGLE_ID = re.compile(r"<([^<>]*)>")
_FOLDING = re.compile(r"[ \t\r\n]+")
_ID_FORBIDDEN = re.compile(r"[\s<>,;\"()\\\x00-\x1f\x7f]")


def normalise_message_id(value: str | None) -> str | None:
    """The comparable form of a Message-ID: no brackets or whitespace, domain lower-cased.

    Threading compares our outbound ids with what clients echo back in In-Reply-To and
    References, and clients re-fold, re-case the domain or drop the brackets. Anything without a
    usable ``local@domain`` shape is None rather than a wrong key: so is an id with control
    characters, 8-bit bytes or more than 998 characters, which no cleaning may turn into
    somebody else's id (the de-duplication key falls back to the content hash).
    """
    if value is None:
        return None
    s = _FOLDING.sub("", value)
    match = _ANGLE_ID.search(s)
    if match:
        s = match.group(1)
    elif "<" in s or ">" in s:
        s = s.strip("<>")
    if not s or len(s) > 998 or "@" not in s or not s.isascii():
        return None  # an 8-bit or over-long id is no key: the content hash stands in
    local, _, domain = s.rpartition("@")
    if not local or not domain or _ID_FORBIDDEN.search(s.replace('"', "")):
        return None
    if "@" in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return f"{local}@{domain.lower()}"


def _message_ids(
    values: list[str], limit: int | None = None, name: str = "", truncated: list[str] | None = None
) -> list[str]:
    """All message-ids in In-Reply-To / References values, normalised, de-duplicated.

    With ``limit``, only the first and last halves of that many are read (a note goes to
    ``truncated``): a thread's References start with its first message (our request) and
    end with the latest ones, and 70,000 ids cost 25 s to de-duplicate in a list (issue 12).
    """
    tokens = [token for value in values for token in (_ANGLE_ID.findall(value) or value.split())]
    if limit is not None and len(tokens) > limit:
        tail = limit // 2
        if truncated is not None:
            truncated.append(
                f"{name} lists {len(tokens):,} message ids: only the first {limit - tail:,} "
                f"and the last {tail:,} were read"
            )
        tokens = tokens[: limit - tail] + (tokens[-tail:] if tail else [])
    out: dict[str, None] = {}
    for token in tokens:
        normal = normalise_message_id(token)
        if normal is not None:
            out.setdefault(normal)
    return list(out)


_COMMENT = re.compile(r"\([^()]*\)")


def _parse_date(value: str | None) -> datetime | None:
    """An aware datetime, or None; a zone-less date (``-0000``) is taken as UTC."""
    if not value:
        return None
    # Comments first: "00:19:00 (EDT) -0400" otherwise parses with the zone dropped.
    for candidate in (_COMMENT.sub(" ", value), value):
        try:
            parsed = parsedate_to_datetime(candidate)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if parsed is None:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


# --------------------------------------------------------------------------------------------
# Parsing the bytes
# --------------------------------------------------------------------------------------------


class _RawHeaderPolicy(Compat32):
    """compat32 that returns header values as written, never as ``email.header.Header``."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaderPolicy(linesep="\n")

_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_BOUNDARY_PARAM = re.compile(rb"""boundary\s*=\s*(?:"([^"\n]{1,200})"|([^\s;"]{1,200}))""", re.I)


def _normalise_newlines(raw: bytes) -> bytes:
    if b"\r" not in raw:
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _strip_leading_junk(data: bytes) -> tuple[bytes, list[str]]:
    """Drop blank lines and an mbox ``From `` line that precede the first header."""
    notes: list[str] = []
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        line = data[pos : end if end >= 0 else len(data)]
        if end >= 0 and not line.strip():
            notes.append("message: blank line before the headers removed")
            pos = end + 1
            continue
        if end >= 0 and line.startswith(b"From ") and not _HEADER_LINE.match(line):
            pos = end + 1  # mbox separator, added by local delivery: not a defect
            continue
        break
    return data[pos:], notes


def _split_fields(data: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (each with its continuation lines) and the body after the blank line.

    A field is cut out of ``data`` from its first line to the next field's, never built up a
    line at a time: a References folded over 70,000 lines made that quadratic (issue 12).
    """
    starts: list[int] = []
    pos = 0
    size = len(data)

    def fields(stop: int) -> list[bytes]:
        ends = [*starts[1:], stop] if starts else []
        return [data[a:b] for a, b in zip(starts, ends, strict=True)]

    while pos < size:
        end = data.find(b"\n", pos)
        end = size if end < 0 else end + 1
        line = data[pos:end]
        if line in (b"\n", b""):
            return fields(pos), data[end:]
        if line[:1] in (b" ", b"\t") and starts:
            pass  # a continuation line: part of the field above
        elif _HEADER_LINE.match(line):
            starts.append(pos)
        else:
            return fields(pos), data[pos:]
        pos = end
    return fields(size), b""


def _field_name(field_bytes: bytes) -> str:
    return field_bytes.split(b":", 1)[0].strip().decode("ascii", "replace").lower()


def _precheck_parts(data: bytes, limits: Limits) -> None:
    """Refuse a part bomb before the stdlib parser spends seconds building it."""
    if data.count(b"\n--") <= limits.max_parts:
        return  # every delimiter line starts with "--": too few such lines to matter
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY_PARAM.finditer(data)}
    if len(boundaries) > limits.max_parts:
        raise MessageTooLarge(f"more than {limits.max_parts} MIME parts declared")
    delimiters = 0
    for boundary in boundaries:
        delimiters += data.count(b"\n--" + boundary) - data.count(b"\n--" + boundary + b"--")
    if delimiters > limits.max_parts:
        raise MessageTooLarge(f"more than {limits.max_parts} MIME parts")


def _fix_duplicate_content_type(data: bytes, msg: Message, notes: list[str]) -> Message:
    """Pick the Content-Type that matches the body when a message carries two.

    The stdlib trusts the first. When the first is not multipart but a later one is, and that
    later one's boundary really delimits the body, the later one is right (a broken mailer
    appended a default ``text/plain``); otherwise we keep the first.
    """
    values = msg.get_all("content-type") or []
    if len(values) < 2:
        return msg
    first_multipart = values[0].strip().lower().startswith("multipart/")
    if not first_multipart:
        fields, body = _split_fields(data)
        for index, value in enumerate(values[1:], start=1):
            match = _BOUNDARY_PARAM.search(value.encode("ascii", "surrogateescape"))
            if not (value.strip().lower().startswith("multipart/") and match):
                continue
            boundary = match.group(1) or match.group(2)
            if b"--" + boundary not in body:
                continue
            seen = 0
            kept: list[bytes] = []
            for field_bytes in fields:
                if _field_name(field_bytes) == "content-type":
                    seen += 1
                    if seen - 1 != index:
                        continue
                kept.append(field_bytes)
            notes.append(f"message: {len(values)} Content-Type headers; used the multipart one")
            return message_from_bytes(b"".join(kept) + b"\n" + body, policy=_POLICY)
    notes.append(f"message: {len(values)} Content-Type headers; used the first")
    return msg


def parse_mime(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[Message, list[str]]:
    """The stdlib MIME tree for ``raw`` after size checks and line-ending repair.

    Returns the tree and notes on what was repaired (and on what was not parsed: see
    :attr:`Limits.max_raw_lines`). Shared with classification, which reads
    ``message/delivery-status`` parts and hands the tree to flufl.bounce.
    """
    msg, notes, truncated = _parse_mime(raw, limits)
    return msg, [*truncated, *notes]


def _first_lines(data: bytes, limits: Limits, truncated: list[str]) -> bytes:
    """The first :attr:`Limits.max_raw_lines` lines of the raw message, with a note.

    The stdlib parser reads a message a line at a time, about two microseconds a line: 25 MB
    of empty lines would take it 50 seconds, in one call nothing can interrupt. A legitimate
    message at the size limit has a third as many lines (base64 lines are 77 bytes long).
    Cutting the bytes short is what the parser sees of a truncated message anyway: the
    parts that fit, and a note that the closing boundary is missing.
    """
    lines = data.count(b"\n")
    if lines <= limits.max_raw_lines:
        return data
    rest = data.split(b"\n", limits.max_raw_lines)[-1]
    truncated.append(
        f"only the first {limits.max_raw_lines:,} lines of the raw message were parsed "
        f"(it has {lines:,})"
    )
    return data[: len(data) - len(rest)]


def _first_fields(data: bytes, limits: Limits, truncated: list[str]) -> bytes:
    """The message with only its first :attr:`Limits.max_header_fields` header fields.

    The stdlib parser reads 200,000 header fields in about a second, and every lookup of a
    header scans them all again; past the cap the rest are dropped before it sees them, with
    a note (a Content-Type among them is not read: the body is then plain text).
    """
    end = data.find(b"\n\n")
    if (data if end < 0 else data[: end + 1]).count(b"\n") <= limits.max_header_fields:
        return data  # every field takes a line at least: too few lines to matter
    fields, body = _split_fields(data)
    if len(fields) <= limits.max_header_fields:
        return data
    truncated.append(
        f"the message has {len(fields):,} header fields: only the first "
        f"{limits.max_header_fields:,} were read"
    )
    return b"".join(fields[: limits.max_header_fields]) + b"\n" + body


def _parse_mime(raw: bytes, limits: Limits) -> tuple[Message, list[str], list[str]]:
    """:func:`parse_mime`, with the notes on what was not parsed apart (``truncated``)."""
    if len(raw) > limits.max_bytes:
        raise MessageTooLarge(f"message is {len(raw)} bytes, over the {limits.max_bytes} limit")
    notes: list[str] = []
    if b"\r" in raw and b"\r\n" not in raw:
        notes.append("message: bare CR line endings")
    data, junk_notes = _strip_leading_junk(_normalise_newlines(raw))
    notes.extend(junk_notes)
    _precheck_parts(data, limits)
    truncated: list[str] = []
    data = _first_fields(_first_lines(data, limits, truncated), limits, truncated)
    try:
        msg = message_from_bytes(data, policy=_POLICY)
        msg = _fix_duplicate_content_type(data, msg, notes)
    except RecursionError:
        raise MimeTooDeep(f"MIME nesting deeper than {limits.max_depth} levels") from None
    return msg, notes, truncated


_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary parameter",
    "StartBoundaryNotFoundDefect": "the multipart boundary never appears in the body",
    "CloseBoundaryNotFoundDefect": "missing final MIME boundary",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation line",
    "MisplacedEnvelopeHeaderDefect": "mbox 'From ' line in the middle of the headers",
    "MissingHeaderBodySeparatorDefect": "no blank line between headers and body",
    "MultipartInvariantViolationDefect": "declared multipart but has no parts",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with an invalid transfer encoding",
}


def _check_tree(root: Message, limits: Limits, defects: list[str]) -> None:
    """Enforce depth and part-count limits; collect the parser's defects with their location."""
    stack: list[tuple[Message, int, str]] = [(root, 0, "message")]
    count = 0
    while stack:
        part, depth, path = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise MessageTooLarge(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise MimeTooDeep(f"MIME nesting deeper than {limits.max_depth} levels")
        for defect in part.defects:
            name = type(defect).__name__
            defects.append(f"{path}: {_DEFECT_TEXT.get(name, name)}")
        if part.get_content_type() == "message/delivery-status":
            continue  # its children are per-recipient field blocks, not MIME parts
        payload = stored_payload(part)
        if isinstance(payload, list):
            for index in range(len(payload) - 1, -1, -1):
                child = payload[index]
                if isinstance(child, Message):
                    stack.append((child, depth + 1, f"{path}/{index + 1}"))


# --------------------------------------------------------------------------------------------
# Transfer encodings
# --------------------------------------------------------------------------------------------

_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=]*")
_UU_BEGIN = re.compile(rb"^begin [0-7]{3,4} .*$", re.M)


def stored_payload(part: Message) -> list[Message] | str | bytes | None:
    """A part's payload as the parser stored it: sub-parts, or the body still encoded.

    ``get_payload()`` re-decodes 8-bit bodies with the *declared* charset (raising on a
    nonsense label) and ``get_payload(decode=True)`` applies its own, stricter, transfer
    decoding; both lose the bytes we want, so the stored payload is read directly.
    """
    # typeshed leaves out Message's private ``_payload``, which the docstring says we need.
    return part._payload  # type: ignore[attr-defined]


def _payload_bytes(part: Message) -> bytes:
    """The part's body bytes exactly as they arrived."""
    payload = stored_payload(part)
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    try:
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return payload.encode("utf-8", "surrogateescape")


def _decode_base64(data: bytes, where: str, defects: list[str]) -> bytes:
    lines = [line.strip() for line in data.split(b"\n")]
    if any(b" " in line or b"\t" in line for line in lines):
        defects.append(f"{where}: labelled base64 but is not; read as it stands")
        return data
    compact = b"".join(lines)
    if not _B64_CHARS.fullmatch(compact):
        cleaned = re.sub(rb"[^A-Za-z0-9+/=]", b"", compact)
        if len(cleaned) < len(compact) * 0.9:
            defects.append(f"{where}: labelled base64 but is not; read as it stands")
            return data
        defects.append(f"{where}: stray characters in base64 removed")
        compact = cleaned
    compact = compact.replace(b"=", b"")
    if len(compact) % 4 == 1:
        if len(compact) < 8:
            defects.append(f"{where}: labelled base64 but is not; read as it stands")
            return data
        defects.append(f"{where}: truncated base64")
        compact = compact[:-1]
    if len(compact) % 4:
        compact += b"=" * (-len(compact) % 4)
    try:
        return binascii.a2b_base64(compact)
    except binascii.Error:
        defects.append(f"{where}: undecodable base64; read as it stands")
        return data


def _decode_uu(data: bytes) -> bytes:
    out = bytearray()
    started = False
    for line in data.split(b"\n"):
        if not started:
            started = bool(_UU_BEGIN.match(line))
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            continue
    return bytes(out) if started else data


def _decode_transfer(part: Message, where: str, defects: list[str]) -> bytes:
    data = _payload_bytes(part)
    written = (part.get("content-transfer-encoding") or "").strip().lower()
    cte = re.sub(r"[\s_]+", "-", written)
    if cte in ("", "7bit", "8bit", "binary", "7-bit", "8-bit"):
        return data
    if cte == "quoted-printable" or "quoted" in cte:
        if cte != "quoted-printable":
            defects.append(f"{where}: transfer encoding {written!r} read as quoted-printable")
        return binascii.a2b_qp(data)
    if "base64" in cte or cte == "base-64":
        if cte != "base64":
            defects.append(f"{where}: Content-Transfer-Encoding {written!r} read as base64")
        return _decode_base64(data, where, defects)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _decode_uu(data)
    if "/" in cte:
        defects.append(f"{where}: Content-Transfer-Encoding is a media type ({written!r}); ignored")
    else:
        defects.append(f"{where}: unknown Content-Transfer-Encoding {written!r}; ignored")
    return data


# --------------------------------------------------------------------------------------------
# HTML and format=flowed
# --------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h\d|/table)\b[^>]*>", re.I)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_PADDING_AFTER_COLON = re.compile(r"(?<=\S:) {2,}(?=\S)")
_PADDING = re.compile(r"(?<=\S) {3,}(?=\S)")


def _crude_html_text(html: str) -> str:
    text = _SCRIPT_STYLE.sub("", html)
    text = _BLOCK_TAG.sub("\n", text)
    return _unescape_html(_TAG.sub("", text))


@functools.cache
def _inscriptis() -> Callable[[str], str]:
    """inscriptis (and lxml under it), loaded for the first HTML-only message, not before."""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    config = ParserConfig(css=CSS_PROFILES["strict"], display_links=False, display_images=False)
    return lambda html: str(get_text(html, config))


def html_to_text(html: str) -> str:
    """Readable text from an HTML body, one table row per line.

    inscriptis pads table cells into aligned columns; the padding after a colon is collapsed to
    one space (so ``[A1] Visits:    42`` reads ``[A1] Visits: 42``) and other runs to two.
    """
    try:
        text = _inscriptis()(html)
    except Exception:  # lxml rejects some documents outright; a rough text beats none
        text = _crude_html_text(html)
    lines = []
    for line in clean_text(text).split("\n"):
        line = line.rstrip()
        stripped = line.lstrip(" ")
        indent = line[: len(line) - len(stripped)]
        stripped = _PADDING_AFTER_COLON.sub(" ", stripped)
        lines.append(indent + _PADDING.sub("  ", stripped))
    out = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", out) + "\n" if out else ""


def unflow(text: str, delsp: bool = False) -> str:
    """Undo RFC 3676 ``format=flowed``: join soft-broken lines back into paragraphs.

    A line ending in a space continues on the next line of the same quote depth; a leading space
    is space-stuffing and removed; ``-- `` (the signature separator) is never flowed; with
    ``DelSp=yes`` the soft-break space itself is deleted.
    """
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0

    def render(depth: int, content: str) -> str:
        content = content.rstrip(" ")
        return ">" * depth + " " + content if depth and content else ">" * depth + content

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if content == "-- ":  # the signature separator: never flowed, never joined to
            if buffer is not None:
                out.append(render(buffer_depth, buffer))
                buffer = None
            out.append(">" * depth + (" " if depth else "") + content)
            continue
        flowed = content.endswith(" ")
        if flowed and delsp:
            content = content[:-1]
        if buffer is not None and depth == buffer_depth:
            buffer += content
        else:
            if buffer is not None:
                out.append(render(buffer_depth, buffer))
            buffer, buffer_depth = content, depth
        if not flowed:
            out.append(render(buffer_depth, buffer))
            buffer = None
    if buffer is not None:
        out.append(render(buffer_depth, buffer))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Choosing the body
# --------------------------------------------------------------------------------------------


@dataclass
class _Leaf:
    part: Message
    kind: str  # "plain" or "html"
    where: str


@dataclass
class _Decoded:
    text: str
    charset: str | None
    guessed: bool
    html: str | None = None


def _param(
    part: Message, name: str, header: str = "content-type", defects: list[str] | None = None
) -> str | None:
    """A header parameter as text; an RFC 2231 value (``name*=charset''...``) is decoded here.

    Not with ``collapse_rfc2231_value``: it decodes through whatever codec the sender names,
    and ``undefined`` or ``utf-7`` raise UnicodeError through it. :func:`_decode_bytes`
    refuses non-text charsets and falls back as it does for a body (noted in ``defects``).
    """
    value = part.get_param(name, header=header)
    if value is None or isinstance(value, str):
        return value
    charset, _language, text = value
    data = text.encode("raw-unicode-escape")  # one byte per character, as the stdlib does
    notes = defects if defects is not None else []
    return clean_text(_decode_bytes(data, charset or "us-ascii", notes, f"{name} parameter")[0])


#: Names and types of the attachments a spreadsheet reply may come as: ours (``.xlsx``) is
#: read; the others are kept so the confirmation can say why they were not.
_SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".csv", ".ods")
_SHEET_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/vnd.ms-excel",
        "application/vnd.oasis.opendocument.spreadsheet",
        "text/csv",
    }
)


def may_be_sheet(filename: str | None, content_type: str) -> bool:
    """Whether an attachment may be a spreadsheet, by its name or its declared type."""
    name = (filename or "").strip().lower()
    return name.endswith(_SHEET_SUFFIXES) or content_type.lower() in _SHEET_TYPES


def _filename(part: Message, defects: list[str]) -> str | None:
    name = _param(part, "filename", "content-disposition", defects) or _param(
        part, "name", defects=defects
    )
    if not name:
        return None
    return _decode_header_value(name, None, defects) or None


def _disposition(part: Message) -> str:
    value = part.get("content-disposition") or ""
    return value.split(";", 1)[0].strip().lower()


def _entity_size(part: Message) -> int:
    """Approximate size in bytes of an entity as it arrived (headers and encoded body).

    Re-serialising with ``as_bytes()`` would be exact but costs more than the rest of the
    decode; this is a note for operators, not a quota.
    """
    size = sum(len(name) + len(value) + 3 for name, value in part.items()) + 1
    payload = stored_payload(part)
    if isinstance(payload, list):
        return size + sum(_entity_size(child) for child in payload if isinstance(child, Message))
    return size + len(payload or "")


class _BodyPicker:
    """Walks the MIME tree once, choosing body leaves and listing everything else."""

    def __init__(
        self,
        defects: list[str],
        context: bytes = b"",
        limits: Limits = DEFAULT_LIMITS,
        truncated: list[str] | None = None,
    ) -> None:
        self.defects = defects
        self.context = context
        self.limits = limits
        self.truncated = truncated if truncated is not None else []
        self.attachments: list[AttachmentInfo] = []
        #: Bytes of spreadsheet attachments kept so far (``Limits.max_sheet_bytes``).
        self.sheet_bytes = 0
        self.first_html: _Leaf | None = None
        self._decoded: dict[int, _Decoded] = {}

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, leaf: _Leaf) -> _Decoded:
        cached = self._decoded.get(id(leaf.part))
        if cached is not None:
            return cached
        data = _decode_transfer(leaf.part, leaf.where, self.defects)
        declared = _param(leaf.part, "charset")
        if leaf.kind == "html" and _label(declared) in _NO_CHARSET:
            meta = _META_CHARSET.search(data[:4096])
            if meta:
                declared = meta.group(1).decode("ascii", "replace")
        text, used, guessed = _decode_bytes(data, declared, self.defects, leaf.where, self.context)
        text = clean_text(text).lstrip("\ufeff")
        if leaf.kind == "html":
            decoded = _Decoded("", used, guessed, html=text)  # converted only if chosen
        else:
            if (_param(leaf.part, "format") or "").lower() == "flowed":
                delsp = (_param(leaf.part, "delsp") or "").lower() == "yes"
                text = unflow(text, delsp)
            decoded = _Decoded(text, used, guessed)
        self._decoded[id(leaf.part)] = decoded
        return decoded

    # -- attachments -------------------------------------------------------------------------

    def text_of(self, leaf: _Leaf) -> str:
        """The leaf as text; HTML is converted here, only for leaves chosen as body."""
        decoded = self.decode(leaf)
        if decoded.html is not None and not decoded.text:
            html = _bounded_html(decoded.html, self.limits, self.truncated)
            decoded.text = html_to_text(html)
        return decoded.text

    def attach(self, part: Message, where: str) -> None:
        filename = _filename(part, self.defects)
        content_type = part.get_content_type()
        data: bytes | None = None
        if isinstance(stored_payload(part), list):
            size = _entity_size(part)  # an attached message: its size as it arrived
        else:
            body = _decode_transfer(part, where, [])
            size = len(body)
            if self.sheet_bytes + size <= self.limits.max_sheet_bytes and may_be_sheet(
                filename, content_type
            ):
                data = body
                self.sheet_bytes += size
        self.attachments.append(AttachmentInfo(filename, content_type, size, data))

    # -- selection ---------------------------------------------------------------------------

    def select(self, part: Message, where: str, is_root: bool = False) -> list[_Leaf]:
        ctype = part.get_content_type()
        main, _, sub = ctype.partition("/")
        payload = stored_payload(part)
        if main == "multipart":
            if not isinstance(payload, list):
                return self._broken_multipart(part, where)
            children = [c for c in payload if isinstance(c, Message)]
            if not children:
                return []
            return self._multipart(sub, children, part, where)
        if main == "message" or isinstance(payload, list):
            self.attach(part, where)
            return []
        disposition = _disposition(part)
        if disposition == "attachment" or (
            not is_root and disposition != "inline" and _filename(part, []) is not None
        ):
            self.attach(part, where)
            return []
        if ctype == "text/html":
            leaf = _Leaf(part, "html", where)
            if self.first_html is None:
                self.first_html = leaf
            return [leaf]
        if ctype == "text/plain" or (is_root and main == "text"):
            return [_Leaf(part, "plain", where)]
        self.attach(part, where)
        return []

    def _multipart(
        self, sub: str, children: list[Message], part: Message, where: str
    ) -> list[_Leaf]:
        def at(i: int) -> str:
            return f"{where}/{i + 1}"

        if sub == "alternative":
            return self._alternative(children, where)
        if sub in ("report", "related", "signed"):
            first = 0
            if sub == "related":
                start = _param(part, "start")
                for i, child in enumerate(children):
                    if start and (child.get("content-id") or "").strip() == start.strip():
                        first = i
            root_leaves = self.select(children[first], at(first))
            for i, child in enumerate(children):
                if i != first:
                    self.attach(child, at(i))
            return root_leaves
        if sub == "encrypted":
            for i, child in enumerate(children):
                self.attach(child, at(i))
            return []
        leaves: list[_Leaf] = []
        for i, child in enumerate(children):
            leaves.extend(self.select(child, at(i)))
        if any(leaf.kind == "plain" for leaf in leaves):
            leaves = [leaf for leaf in leaves if leaf.kind == "plain"]
        return leaves

    def _alternative(self, children: list[Message], where: str) -> list[_Leaf]:
        options: list[tuple[list[_Leaf], _BodyPicker]] = []
        for i, child in enumerate(children):
            picker = _BodyPicker(self.defects, self.context, self.limits, self.truncated)
            picker._decoded = self._decoded
            leaves = picker.select(child, f"{where}/{i + 1}")
            if self.first_html is None and picker.first_html is not None:
                self.first_html = picker.first_html
            if leaves:
                options.append((leaves, picker))
        if not options:
            return []
        plain = [o for o in options if all(leaf.kind == "plain" for leaf in o[0])]
        html = [o for o in options if o not in plain]
        chosen = plain[0] if plain else html[0]
        if plain and html and not any(self.text_of(leaf).strip() for leaf in chosen[0]):
            self.defects.append(f"{where}: empty text/plain alternative; used the HTML one")
            chosen = html[0]
        self.attachments.extend(chosen[1].attachments)
        return chosen[0]

    def _broken_multipart(self, part: Message, where: str) -> list[_Leaf]:
        """A multipart whose boundary never matched: recover one part, or read it as text."""
        payload = stored_payload(part)
        text = payload if isinstance(payload, str) else ""
        lines = text.lstrip("\n").split("\n")
        if len(lines) > 2 and lines[0].startswith("--") and re.match(r"[\w-]+:", lines[1]):
            body_lines = lines[1:]
            for i in range(len(body_lines) - 1, -1, -1):
                candidate = body_lines[i].strip()
                if candidate.startswith("--") and candidate.endswith("--"):
                    body_lines = body_lines[:i]
                    break
            inner = message_from_string("\n".join(body_lines), policy=_POLICY)
            self.defects.append(f"{where}: boundary mismatch; recovered the part that follows")
            return self.select(inner, f"{where}/1")
        self.defects.append(f"{where}: multipart without usable boundaries; read as plain text")
        return [_Leaf(part, "plain", where)]


# --------------------------------------------------------------------------------------------
# The whole message
# --------------------------------------------------------------------------------------------


def _raw_header_bytes(root: Message) -> bytes:
    """The undeclared 8-bit header values, as bytes: extra evidence for a body charset guess."""
    chunks = []
    for value in root.values():
        if not value.isascii():
            try:
                chunks.append(value.encode("ascii", "surrogateescape"))
            except UnicodeEncodeError:
                continue
    return b"\n".join(chunks)


# --------------------------------------------------------------------------------------------
# Caps on the work one message may cost (Limits, issue 12)
# --------------------------------------------------------------------------------------------


def _bounded_text(text: str, limits: Limits, truncated: list[str]) -> str:
    """The body text cut to :class:`Limits`' lines, line length and characters, with notes.

    Everything later (splitting off the quote, reading the form, classifying) is linear in
    what is left, so these three bound the cost of reading any message.
    """
    short = len(text) <= min(limits.max_line_chars, limits.max_text_chars)
    if short and text.count("\n") < limits.max_lines:
        return text  # the usual case: nothing can be over a cap
    lines = text.split("\n")
    if len(lines) > limits.max_lines:
        truncated.append(
            f"only the first {limits.max_lines:,} lines of the message were read "
            f"(it has {len(lines):,})"
        )
        lines = lines[: limits.max_lines]
    cap = limits.max_line_chars
    long_lines = sum(len(line) > cap for line in lines)
    if long_lines:
        truncated.append(
            f"{long_lines:,} line(s) longer than {cap:,} characters: only the first {cap:,} "
            "characters of each were read"
        )
        lines = [line[:cap] if len(line) > cap else line for line in lines]
    total = sum(map(len, lines)) + len(lines) - 1
    if total > limits.max_text_chars:
        kept, size = 0, -1
        for line in lines:
            if size + 1 + len(line) > limits.max_text_chars:
                break
            size += 1 + len(line)
            kept += 1
        truncated.append(
            f"only the first {limits.max_text_chars:,} characters ({kept:,} lines) of the "
            f"message were read (it has {total:,})"
        )
        lines = lines[:kept]
    return "\n".join(lines)


def _bounded_html(html: str, limits: Limits, truncated: list[str]) -> str:
    """The start of an HTML body, within :class:`Limits`' characters and tags, with notes.

    The converter (lxml, then inscriptis laying out tables) costs about 2 seconds a
    megabyte, or 20 microseconds a table cell; what it is not given it cannot spend. Cutting
    inside an element is safe: lxml closes whatever is left open.
    """
    if len(html) > limits.max_html_chars:
        truncated.append(
            f"only the first {limits.max_html_chars:,} characters of the HTML "
            f"(of {len(html):,}) were read"
        )
        html = html[: limits.max_html_chars]
    tags = html.count("<")
    if tags > limits.max_html_tags:
        pos = -1
        for _ in range(limits.max_html_tags + 1):
            pos = html.find("<", pos + 1)
        truncated.append(
            f"only the first {limits.max_html_tags:,} HTML tags (of {tags:,}) were read"
        )
        html = html[:pos]
    return html


def _capped(value: str, limits: Limits, address_list: bool = False) -> str:
    """A header value cut to :attr:`Limits.max_header_chars` (an address list at a comma,
    so that no address is read half)."""
    cap = limits.max_header_chars
    if len(value) <= cap:
        return value
    if address_list:
        comma = value.rfind(",", 0, cap)
        return value[: max(comma, 0)]
    return value[:cap]


def decode_message(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedMessage:
    """Decode one raw message (any line endings, any charset, broken MIME) for later stages.

    Raises only :class:`MessageTooLarge` or :class:`MimeTooDeep`; everything else that is wrong
    with the message is coped with and noted in ``defects``.
    """
    root, notes, truncated = _parse_mime(raw, limits)
    defects = list(notes)
    _check_tree(root, limits, defects)

    # Only evidence for a charset guess: the first 64 KB say as much as 20 MB would.
    picker = _BodyPicker(defects, _raw_header_bytes(root)[:65536], limits, truncated)
    leaves = picker.select(root, "message", is_root=True)
    if len(leaves) > limits.max_text_parts:
        truncated.append(
            f"the message has {len(leaves):,} text parts: only the first "
            f"{limits.max_text_parts:,} were read"
        )
        leaves = leaves[: limits.max_text_parts]
    decoded = [picker.decode(leaf) for leaf in leaves]
    if decoded:
        text = _bounded_text("\n".join(picker.text_of(leaf) for leaf in leaves), limits, truncated)
        text_source = "html" if all(leaf.kind == "html" for leaf in leaves) else "plain"
        charset_used = decoded[0].charset
        charset_guessed = any(d.guessed for d in decoded)
    else:
        text, text_source, charset_used, charset_guessed = "", "none", None, False
    html = picker.decode(picker.first_html).html if picker.first_html is not None else None
    html = html if html and html.strip() else None
    hint = charset_used if charset_used not in (None, "us-ascii", "utf-8") else None

    raw_items = root.items()
    if len(raw_items) > limits.max_header_fields:
        truncated.append(
            f"the message has {len(raw_items):,} header fields: only the first "
            f"{limits.max_header_fields:,} were read"
        )
        raw_items = raw_items[: limits.max_header_fields]
    long_fields = sum(len(value) > limits.max_header_chars for _name, value in raw_items)
    if long_fields:
        truncated.append(
            f"{long_fields:,} header field(s) longer than {limits.max_header_chars:,} "
            f"characters: only the first {limits.max_header_chars:,} of each were read"
        )
    headers = tuple(
        (_one_line(name), _decode_header_value(_capped(value, limits), hint, defects))
        for name, value in raw_items
    )
    by_name: dict[str, list[str]] = {}
    for name, value in raw_items:  # one pass instead of a linear get_all() per field
        by_name.setdefault(name.strip().lower(), []).append(value)

    def all_values(name: str) -> list[str]:
        return by_name.get(name, [])

    def first_value(name: str) -> str | None:
        values = all_values(name)
        return values[0] if values else None

    def capped_values(name: str) -> list[str]:
        return [_capped(value, limits, address_list=True) for value in all_values(name)]

    def addr_list(name: str) -> list[str]:
        return [addr for _name, addr in _addresses(capped_values(name), hint, defects)]

    def ids(name: str, label: str) -> list[str]:
        values = [_unfold(v) for v in all_values(name)]
        return _message_ids(values, limits.max_references, label, truncated)

    from_pairs = _addresses(capped_values("from")[:1], hint, defects)
    from_name, from_address = from_pairs[0] if from_pairs else (None, None)
    sender = addr_list("sender")
    raw_id = first_value("message-id")
    raw_message_id = _one_line(_unfold(raw_id)) if raw_id is not None else None
    unfolded_id = _unfold(raw_id) if raw_id is not None else None
    subject_raw = first_value("subject")
    subject_raw = _capped(subject_raw, limits) if subject_raw is not None else None
    date_raw = first_value("date")

    return DecodedMessage(
        message_id=normalise_message_id(unfolded_id),
        raw_message_id=raw_message_id or None,
        from_address=from_address,
        from_name=from_name or None,
        sender_address=sender[0] if sender else None,
        reply_to=addr_list("reply-to"),
        to=addr_list("to"),
        cc=addr_list("cc"),
        delivered_to=addr_list("delivered-to"),
        x_original_to=addr_list("x-original-to"),
        envelope_to=addr_list("envelope-to"),
        subject=_decode_header_value(subject_raw, hint, defects) if subject_raw else "",
        date=_parse_date(_one_line(_unfold(date_raw)) if date_raw else None),
        in_reply_to=ids("in-reply-to", "In-Reply-To"),
        references=ids("references", "References"),
        headers=headers,
        text=text,
        text_source=text_source,
        html=html,
        charset_used=charset_used,
        charset_guessed=charset_guessed,
        attachments=picker.attachments,
        defects=list(dict.fromkeys([*truncated, *defects])),
        truncated=truncated,
    )


# --------------------------------------------------------------------------------------------
# Hashing support
# --------------------------------------------------------------------------------------------

#: Headers that servers add or rewrite while carrying a message, so two deliveries of the same
#: message differ in them: trace fields (RFC 5321 section 4.4), delivery-time envelope copies,
#: authentication verdicts and signatures added by relays and forwarders (DKIM, ARC, SPF,
#: DMARC), spam and virus scanner verdicts, mbox/IMAP state, and Exchange/Office 365 routing
#: stamps. ``Content-Length``/``Lines`` are recomputed by some mailbox formats.
TRACE_HEADERS = frozenset(
    [
        # RFC 5321 trace fields and envelope copies written at delivery
        *("received", "x-received", "return-path", "delivered-to", "x-original-to"),
        *("envelope-to", "x-envelope-to", "envelope-from", "x-envelope-from"),
        *("x-envelope-sender", "delivery-date", "x-delivery-date", "x-real-to", "x-rcpt-to"),
        *("x-delivered-to", "x-original-delivered-to", "old-return-path", "x-get_mail_default"),
        # authentication verdicts and signatures added by relays and forwarders
        *("authentication-results", "x-original-authentication-results", "received-spf"),
        *("dkim-signature", "x-google-dkim-signature", "domainkey-signature", "dmarc-filter"),
        *("x-ms-exchange-authentication-results", "x-sender-id", "x-senderid"),
        # scanner and filter verdicts, server-side rules
        *("x-spam", "x-spam-flag", "x-spam-score", "x-spam-level", "x-spam-status"),
        *("x-spam-checker-version", "x-spam-report", "x-virus-scanned", "x-virus-status"),
        *("x-amavis-alert", "x-greylist", "x-sieve", "x-scanned-by", "x-mailgun-incoming"),
        *("x-originalarrivaltime", "x-ms-exchange-inbox-rules-loop", "x-store-info"),
        *("x-message-delivery", "x-message-info"),
        # mailbox state and lengths recomputed by mbox/maildir/IMAP stores
        *("status", "x-status", "x-keywords", "x-uid", "x-mozilla-status", "x-mozilla-status2"),
        *("content-length", "lines"),
    ]
)

#: Name prefixes of vendor families that stamp messages in transit.
TRACE_HEADER_PREFIXES = (
    *("arc-", "x-spam-", "x-virus-", "x-ms-exchange-organization-"),
    *("x-ms-exchange-crosstenant-", "x-ms-exchange-transport-", "x-microsoft-antispam"),
    *("x-forefront-antispam", "x-exchange-antispam", "x-mimecast-", "x-proofpoint-"),
    *("x-ironport-", "x-barracuda-", "x-sophos-", "x-mc-", "x-gm-", "x-gmx-", "x-ui-", "x-rzg-"),
    *("x-sid-", "x-auth-"),
)


def _is_trace(name: str) -> bool:
    return name in TRACE_HEADERS or name.startswith(TRACE_HEADER_PREFIXES)


def strip_trace_headers(raw: bytes) -> bytes:
    """The message without headers added in transit, for a hash that survives re-delivery.

    The same message fetched twice (say over SMTP and again over IMAP, or bounced back by a
    forwarder) differs in its trace headers (:data:`TRACE_HEADERS`,
    :data:`TRACE_HEADER_PREFIXES`), in line endings, in an mbox ``From `` line and in trailing
    blank lines. All of those are removed or normalised (LF line endings, one final newline);
    the author's headers and the body bytes are kept exactly. The result is for hashing only.
    """
    data, _notes = _strip_leading_junk(_normalise_newlines(raw))
    fields, body = _split_fields(data)
    kept = [f for f in fields if not _is_trace(_field_name(f))]
    return b"".join(kept) + b"\n" + body.rstrip(b"\n") + b"\n"
