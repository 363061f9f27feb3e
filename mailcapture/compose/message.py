"""Turn a rendered email and its envelope into RFC 5322 bytes, ready for the outbox.

Structure::

    multipart/alternative
      text/plain; charset=utf-8      the form: canonical, what replies are parsed against
      text/html; charset=utf-8       the same content as a readable table
      (or multipart/related: the HTML plus inline images, when images are given)

    and with attachments (a request's spreadsheet form), all of that inside::

    multipart/mixed
      multipart/alternative             as above
      application/...; attachment       each attachment, base64, with its file name

The plain part comes first because RFC 2046 orders alternatives from plainest to richest;
clients show the last one they can display.

Decisions:

* **Line endings: CRLF.** RFC 5322 defines a message with CRLF line ends and SMTP carries
  exactly that, so the bytes the outbox stores are byte for byte the bytes sent (and
  signed, should DKIM signing be added), whichever transport is used. ``.eml`` readers
  (Outlook, Thunderbird, Apple Mail) open CRLF files. A parser keeps the CRLFs in decoded
  text; ``\\r\\n`` is MIME's canonical text line break (RFC 2046 4.1.1), and the text
  decoded from these bytes equals the rendered text once CRLF is read as ``\\n``.
* **Transfer encoding of the text: 7bit or quoted-printable, never base64 or 8bit.** A
  text part that is ASCII with no line over 78 characters goes as 7bit, readable as-is
  in any raw view.
  Anything else is quoted-printable, which keeps the form legible in a raw view, survives
  relays without 8BITMIME and decodes to exactly the rendered text. (The stdlib would pick
  base64 for text with many non-ASCII characters; we choose explicitly.) Attachments and
  images are binary and go as base64, in lines of 76 characters.
* **Headers** are generated as ``email.policy.SMTP`` generates them: non-ASCII display
  names and subjects become RFC 2047 encoded words, long headers fold at 78 characters,
  and a CR or LF in any value is refused rather than allowed to inject a header. For
  speed, plain ASCII values are written directly, byte for byte as the stdlib would (see
  "Speed" below); everything else still goes through ``email.policy.SMTP``.
* **No replies from robots to robots.** ``Auto-Submitted`` (RFC 3834) tells well-behaved
  auto-responders not to answer; ``X-Auto-Response-Suppress: OOF, AutoReply`` tells
  Exchange not to send out-of-office notes; :data:`LOOP_HEADER` lets our own inbound
  pipeline recognise mail we sent that came back to us.

Limits: addresses must be ASCII (SMTPUTF8 is not supported; the register's addresses are
checked). An address that came in a message (a stranger's From) is checked with
:func:`address_problem` before anything is queued for it: we cannot write to a non-ASCII,
malformed, damaged or over-long address, and such a sender gets no mail at all (the message
records why). A subject containing text that looks like an RFC 2047 encoded word (``=?...?=``)
is sent as is, and readers will decode it; our subject templates never produce one.
"""

from __future__ import annotations

import binascii
import functools
import random
import re
import secrets
import sys
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from io import BytesIO
from typing import ClassVar

from mailcapture.compose.render import Rendered

__all__ = [
    "LOOP_HEADER",
    "Attachment",
    "Envelope",
    "InlineImage",
    "address_problem",
    "build_message",
    "make_message_id",
    "writable_address",
]

LOOP_HEADER = "X-Mailcapture-Loop"
#: Exchange: do not send out-of-office or other automatic replies to this message.
AUTO_RESPONSE_SUPPRESS = "OOF, AutoReply"
_MAX_7BIT_LINE = 78
_SEVEN_BIT = re.compile(r"[\t\n\x20-\x7e]*")
_POLICY = policy.SMTP
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ":" (RFC 5322 ftext)
_RESERVED = frozenset(
    name.casefold()
    for name in (
        "Date", "Message-ID", "From", "To", "Reply-To", "Subject", "In-Reply-To",
        "References", "Auto-Submitted", "X-Auto-Response-Suppress", LOOP_HEADER,
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    )
)  # fmt: skip


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML (a chart), referenced there as ``cid:<cid>``."""

    cid: str
    data: bytes
    subtype: str
    filename: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with the email (``Content-Disposition: attachment``), e.g. the request's
    ``.xlsx`` form; ``maintype``/``subtype`` are its MIME type."""

    filename: str
    data: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True)
class Envelope:
    """Who and what an email is about, apart from its words.

    ``from_header`` is a full header value ("Ashdown Performance Team <performance@...>").
    ``reply_to`` carries the request token for requests and reminders, so a reply finds its
    request even when the subject was edited. ``message_id`` includes the angle brackets.
    """

    from_header: str
    to: str
    to_name: str | None
    reply_to: str | None
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str = "auto-generated"
    loop_marker: str = "mailcapture"
    extra_headers: tuple[tuple[str, str], ...] = ()


#: RFC 5321 4.5.3.1: a local part of at most 64 octets, a path of at most 256 with its
#: angle brackets, so an address of at most 254.
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254
#: RFC 5322 dot-atom: atext runs joined by single dots.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def address_problem(address: str) -> str | None:
    """Why we cannot write to ``address``, in words for the audit trail; None when we can.

    The addresses we send to from the register are checked when it is loaded; this is for
    addresses that arrived in a message (a stranger's From, read by the decode stage), which
    can hold anything: characters the decoder could not read (U+FFFD, which is also what a
    control character in an address becomes), non-ASCII (we do not send with SMTPUTF8),
    more than RFC 5321 allows, or anything but a plain ``dot-atom@host.name``. Quoted local
    parts and address literals are valid RFC 5322 but refused too: nobody answers a council
    from one, and the stdlib's address parser raises ValueError, HeaderParseError, IndexError
    or AttributeError on malformed variants of them, so only the plain form is written.
    """
    if not address:
        return "no address"
    if "\ufffd" in address:
        return "the address has characters that could not be read (control characters or bytes)"
    if any(ord(c) < 0x20 or c == "\x7f" or 0xD800 <= ord(c) <= 0xDFFF for c in address):
        return "the address has control characters"
    if not address.isascii():
        return "the address is not ASCII, and we do not send mail with SMTPUTF8"
    if len(address) > _MAX_ADDRESS:
        return f"the address is longer than {_MAX_ADDRESS} characters"
    if address.count("@") != 1:
        return "the address is malformed: it must have exactly one @"
    local, domain = address.split("@")
    if not local or not domain:
        return "the address is malformed: nothing before or after the @"
    if not _DOT_ATOM.fullmatch(local):
        return (
            "the address is malformed: the part before @ is not a plain name (quotes, spaces, "
            "brackets or doubled dots)"
        )
    if len(local) > _MAX_LOCAL_PART:
        return f"the part before @ is longer than {_MAX_LOCAL_PART} characters"
    if len(domain) > 253 or not all(_HOST_LABEL.fullmatch(part) for part in domain.split(".")):
        return f"the address is malformed: {domain[:80]!r} is not a host name"
    return None


def writable_address(address: str) -> str | None:
    """``address`` when we can write to it, else None (:func:`address_problem` says why)."""
    return address if address_problem(address) is None else None


def make_message_id(domain: str) -> str:
    """``<32 hex digits@domain>``: 128 random bits, so ids never collide across processes."""
    if not _DOMAIN.fullmatch(domain) or ".." in domain:
        raise ValueError(f"{domain!r} is not a domain name for a Message-ID")
    return f"<{secrets.token_hex(16)}@{domain}>"


def build_message(
    envelope: Envelope,
    rendered: Rendered,
    now: datetime,
    images: Sequence[InlineImage] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The complete message as bytes with CRLF line ends (see the module docstring).

    ``now`` must be timezone-aware: the Date header needs a real offset. ``rendered`` text
    and HTML use ``\\n`` line ends and end with one, as :func:`render` makes them. Raises
    ValueError for a naive ``now``, a non-ASCII address, a header value with a line break,
    or a body that breaks those rules.

    The bytes are those :mod:`email` with ``policy.SMTP`` generates (see "Speed" below),
    written directly; only attachments the generator would not write as a base64 leaf
    (see :func:`_direct_attachments`) are left to the :mod:`email` package itself.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("build_message needs a timezone-aware 'now' for the Date header")
    if not envelope.to.isascii():
        raise ValueError(f"recipient address {envelope.to!r} is not ASCII (no SMTPUTF8)")
    _check_extra_headers(envelope.extra_headers)
    for name, body in (("text", rendered.text), ("html", rendered.html)):
        # What render() guarantees; anything else would not decode back to the same text.
        if "\r" in body or not body.endswith("\n"):
            raise ValueError(f"rendered {name} must use \\n line ends and end with one")
    if not _direct_attachments(attachments):
        return _build_with_email_package(envelope, rendered, now, images, attachments)
    return _build_direct(envelope, rendered, now, images, attachments)


# ---------------------------------------------------------------------------- speed
#
# Building a message with ``EmailMessage`` costs a few milliseconds, most of it parsing
# every header value into a syntax tree and folding it back, which a tick queueing tens
# of thousands of requests pays for each one. ``_build_direct`` writes the same bytes
# itself: a header value that is plain ASCII of the simple shapes below is written (and
# folded) the way the stdlib would, and anything else -- an encoded word, a quoted
# display name, an unusual address -- is still handed to ``email.policy.SMTP`` header by
# header. Headers that are the same for every message (From, Date within a tick, the
# robot headers) are folded once and cached. The parts' headers are generated once by the
# stdlib, the bodies are encoded exactly as ``quoprimime`` encodes them (only faster), and
# the boundary is chosen the way ``email.generator`` chooses it. The result is the bytes
# CPython 3.11's ``email`` package writes, boundaries aside: checked over generated inputs
# by ``tests/compose/test_compose_message_direct.py``, and by ``benchmarks/requests.py`` on
# every run for a sample.
#
# Attachments (every request carries its workbook) and inline images are written
# directly too, as ``make_mixed``/``make_related`` and the generator lay them out: the
# alternative moved into a first part of a multipart/mixed, the HTML into a first part of
# a multipart/related, and each attachment or image as its headers and its base64 body in
# lines of 76. An attachment's Content-Type and Content-Transfer-Encoding lines come from
# the stdlib, once per type; its Content-Disposition is written here when its file name
# is printable ASCII (a quoted string) or non-ASCII (RFC 2231 ``filename*=utf-8''...``)
# and the parameter fits on the header's line or a line of its own, and otherwise (a
# name long enough for RFC 2231 sections, control characters, an empty name) taken from
# the stdlib. An image's headers (its file name and Content-ID differ each time; report
# emails carry a few) and extra headers are made and folded by the stdlib, one by one.
# Only attachments of type multipart/* or message/* still make the email package build
# the whole message: the generator treats those as containers rather than as a base64
# leaf, and no direct writing of them could be exact.

_MAX_LINE = _POLICY.max_line_length or 78
_CRLF = "\r\n"
_LOCAL = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
_HOST = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_ADDRESS = re.compile(rf"{_LOCAL}@{_HOST}")
_SIMPLE_MESSAGE_ID = re.compile(rf"<{_LOCAL}@{_HOST}>")
#: A display name of atoms (no RFC 5322 specials, no quoting, no "=?") and single spaces.
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/^_`{|}~-]+)*")
#: Printable ASCII words separated by single spaces: folded by _fold_unstructured.
_SIMPLE_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
#: The stdlib turns a word too long for a line into encoded words: keep well clear of that.
_LONGEST_WORD = _MAX_LINE - 8
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))  # as email.generator
#: ``contentmanager._encode_base64``: lines of ``max_line_length // 4 * 3`` bytes, so 76.
_BASE64_LINE = _MAX_LINE // 4 * 4
#: File names written as a quoted string: printable ASCII (the stdlib drops controls).
_PRINTABLE_NAME = re.compile(r"[ -~]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _Head:
    """A message's header lines, made in the stdlib's order of work and of errors.

    ``EmailMessage`` parses (and refuses) each value when it is set, and folds them all
    only when the message is written; so values are stored here in order, the bodies are
    encoded, and only then is anything folded. A line the fast route writes itself cannot
    fail at either step.
    """

    #: Folded lines of headers repeated in every message (From, Date within one tick...).
    _cache: ClassVar[dict[tuple[str, str], str]] = {}

    def __init__(self) -> None:
        #: Lines written here, or (name, the policy's header object, cache key) to fold.
        #: The policy's header objects (``email.headerregistry.BaseHeader``) are strings.
        self.entries: list[str | tuple[str, str, tuple[str, str] | None]] = []

    def stdlib(self, name: str, value: object, cache_key: tuple[str, str] | None = None) -> None:
        """Set the header as ``EmailMessage`` would; folded by ``policy.SMTP`` later."""
        header: str
        _, header = _POLICY.header_store_parse(name, value)
        self.entries.append((name, header, cache_key))

    def constant(self, name: str, value: str) -> None:
        line = self._cache.get((name, value))
        if line is None:
            self.stdlib(name, value, (name, value))
        else:
            self.entries.append(line)

    def one_line(self, name: str, value: str, simple: bool) -> None:
        line = f"{name}: {value}{_CRLF}"
        if simple and len(line) - 2 <= _MAX_LINE:
            self.entries.append(line)
        else:
            self.stdlib(name, value)

    def unstructured(self, name: str, value: str) -> None:
        if (
            _SIMPLE_TEXT.fullmatch(value)
            and "=?" not in value
            and max(map(len, value.split(" "))) <= _LONGEST_WORD
        ):
            self.entries.append(_fold_unstructured(name, value))
        else:
            self.stdlib(name, value)

    def to(self, name: str, address: str) -> None:
        if _SIMPLE_ADDRESS.fullmatch(address) and (not name or _SIMPLE_NAME.fullmatch(name)):
            line = f"To: {name} <{address}>{_CRLF}" if name else f"To: {address}{_CRLF}"
            if len(line) - 2 <= _MAX_LINE:
                self.entries.append(line)
                return
        self.stdlib("To", Address(display_name=name, addr_spec=address))

    def fold(self) -> bytes:
        lines = []
        for entry in self.entries:
            if isinstance(entry, str):
                lines.append(entry)
                continue
            name, header, cache_key = entry
            line = _POLICY.fold_binary(name, header).decode("ascii", "surrogateescape")
            if cache_key is not None:
                if len(self._cache) >= 256:
                    self._cache.clear()
                self._cache[cache_key] = line
            lines.append(line)
        return "".join(lines).encode("ascii", "surrogateescape")


def _fold_unstructured(name: str, value: str) -> str:
    """An unstructured header (Subject, References...) folded as ``policy.SMTP`` does.

    Only for :data:`_SIMPLE_TEXT` values whose words fit a line: then the stdlib keeps
    the value on the first line if it fits, else on a line of its own if it fits there,
    else wraps word by word, breaking before the space between two words.
    """
    lines = [f"{name}: "]
    if len(value) <= _MAX_LINE - len(lines[0]):
        return f"{name}: {value}{_CRLF}"
    if len(value) + 1 <= _MAX_LINE:
        return f"{name}:{_CRLF} {value}{_CRLF}"
    first = True
    for word in value.split(" "):
        if not first:
            if len(lines[-1]) < _MAX_LINE:
                lines[-1] += " "
            else:
                lines.append(" ")
        first = False
        if len(word) <= _MAX_LINE - len(lines[-1]):
            lines[-1] += word
        else:  # the line ends with the space before this word: move it to the next line
            lines[-1] = lines[-1][:-1]
            lines.append(" " + word)
    return _CRLF.join(lines) + _CRLF


def _make_boundary(text: bytes) -> str:
    """A boundary not found in ``text``, chosen as ``email.generator`` chooses it."""
    token = random.randrange(sys.maxsize)
    boundary = f"{'=' * 15}{token:0{_BOUNDARY_DIGITS}d}=="
    chosen, counter = boundary, 0
    while (b"--" + chosen.encode("ascii")) in text and re.search(
        ("^--" + re.escape(chosen) + "(--)?$").encode("ascii"), text, re.MULTILINE
    ):
        chosen = f"{boundary}.{counter}"
        counter += 1
    return chosen


@functools.cache
def _part_head(subtype: str, cte: str) -> bytes:
    """A text part's headers and the blank line after them, as the stdlib writes them."""
    data = _part_bytes_with_stdlib("\n", subtype, cte)
    return data[: data.index(b"\r\n\r\n") + 4]


def _part_bytes_with_stdlib(body: str, subtype: str, cte: str) -> bytes:
    part = MIMEPart(policy=_POLICY)
    part.set_content(body, subtype=subtype, charset="utf-8", cte=cte)
    out = BytesIO()
    # Typed for the part: typeshed would otherwise take the policy's EmailMessage as the
    # only kind of message this generator may write.
    generator: BytesGenerator[MIMEPart] = BytesGenerator(out, mangle_from_=False, policy=_POLICY)
    generator.flatten(part)
    return out.getvalue()


def _encoded_part(body: str, subtype: str) -> bytes:
    cte = _transfer_encoding(body)
    if cte != "7bit":
        body = _quoted_printable(body.encode("utf-8").decode("latin-1"))
    return _part_head(subtype, cte) + body.replace("\n", _CRLF).encode("ascii")


#: Besides "=", what ``quoprimime`` escapes in a body: all but tab, CR, LF and printable ASCII.
_QP_ESCAPE = re.compile(r"[^\t\n\r -~]+")


def _qp_escape(found: re.Match[str]) -> str:
    return "".join(f"={ord(c):02X}" for c in found.group())


def _quoted_printable(body: str) -> str:
    """``quoprimime.body_encode(body, 78)`` for a latin-1 ``body``, the same text, faster.

    The stdlib escapes with ``str.translate`` over a table of strings, which runs
    character by character in Python's slow path; here "=" goes by ``str.replace`` and the
    rare others by one regular expression. Lines are then broken exactly as there.
    """
    if not body:
        return body
    body = body.replace("=", "=3D")
    if not body.isascii() or _QP_ESCAPE.search(body):
        body = _QP_ESCAPE.sub(_qp_escape, body)
    soft_break = "=\n"
    longest = _MAX_LINE - 1
    encoded: list[str] = []
    append = encoded.append
    for line in body.splitlines():
        start = 0
        last_start = len(line) - 1 - _MAX_LINE
        while start <= last_start:
            stop = start + longest
            if line[stop - 2] == "=":  # never split an escape
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":  # trailing white space is escaped or protected
            room = start - last_start
            if room >= 3:
                end = f"={ord(line[-1]):02X}"
            elif room == 2:
                end = line[-1] + soft_break
            else:
                end = f"{soft_break}={ord(line[-1]):02X}"
            append(line[start:-1] + end)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return "\n".join(encoded)


def _direct_attachments(attachments: Sequence[Attachment]) -> bool:
    """Can :func:`_build_direct` write these attachments exactly?

    The generator writes a part of any type but multipart/* and message/* as its headers
    and its payload, here base64 lines; those two it treats as containers (a multipart
    with a string payload is written without boundaries, a message/* part through its
    own handler), which no direct writing could reproduce, so they go to the stdlib.
    """
    return not any(a.maintype.lower() in ("multipart", "message") for a in attachments)


def _attachment_type(attachment: Attachment) -> tuple[str, str]:
    for what, value in (("type", attachment.maintype), ("subtype", attachment.subtype)):
        if not re.fullmatch(r"[A-Za-z0-9.+-]+", value):
            raise ValueError(f"attachment {what} {value!r} is not a MIME {what}")
    return attachment.maintype, attachment.subtype


@functools.lru_cache(maxsize=64)
def _attachment_type_head(maintype: str, subtype: str) -> bytes:
    """An attachment's Content-Type and Content-Transfer-Encoding lines, as the stdlib
    writes them (a long type such as the .xlsx one is left on one over-long line)."""
    data = _attachment_bytes_with_stdlib(Attachment("", b"", maintype, subtype), False)
    return data[: data.index(b"\r\n\r\n") + 2]


def _disposition_line(filename: str) -> str | None:
    """``Content-Disposition: attachment; filename=...`` folded as ``policy.SMTP`` folds it.

    ``set_param`` writes a printable ASCII name as a quoted string (backslash and quote
    escaped) and any other as RFC 2231 ``filename*=utf-8''`` and percent escapes. The
    stdlib keeps an ASCII name's header on one line if it fits (78 characters); a
    non-ASCII name's value does not encode as ASCII, so its parameter always goes through
    ``_fold_mime_parameters``, which keeps it on the line only when the line stays
    *under* 78. Otherwise the line breaks after ``attachment;`` if the parameter fits on
    a line of its own, and else the parameter is split into RFC 2231 sections. None for
    that last case and for names not of those two kinds (controls, surrogates, empty),
    and for an ASCII name with ``=?`` in it, whose quoted string the stdlib's parser reads
    as RFC 2047 encoded words (``"=?utf-8?q?a?=.txt"`` is written ``"a.txt"``): the stdlib
    writes those.
    """
    if _PRINTABLE_NAME.fullmatch(filename) and "=?" not in filename:
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        param = f'filename="{quoted}"'
        longest = _MAX_LINE
    elif not filename.isascii() and not _SURROGATE.search(filename):
        param = "filename*=utf-8''" + urllib.parse.quote(filename, safe="")
        longest = _MAX_LINE - 1
    else:
        return None
    line = f"Content-Disposition: attachment; {param}"
    if len(line) <= longest:
        return line + _CRLF
    if len(param) + 2 <= _MAX_LINE:
        return f"Content-Disposition: attachment;{_CRLF} {param}{_CRLF}"
    return None


def _base64_body(data: bytes) -> bytes:
    """``contentmanager._encode_base64`` as the generator writes it: 76 characters and
    CRLF a line, the last line ended too; nothing at all for no data.

    The stdlib calls ``b2a_base64`` once per 57-byte chunk, in Python. 57 bytes are 19
    whole 3-byte groups, so no padding falls inside the data and one call over all of it
    gives the same characters, cut here into the same 76-character lines.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    step = _BASE64_LINE
    return b"".join([encoded[i : i + step] + b"\r\n" for i in range(0, len(encoded), step)])


def _attachment_bytes(attachment: Attachment) -> bytes:
    """The attachment part as the generator writes it inside the multipart/mixed."""
    maintype, subtype = _attachment_type(attachment)
    filename = _single_line(attachment.filename, "attachment file name")
    line = _disposition_line(filename)
    if line is None:
        head = _attachment_bytes_with_stdlib(replace(attachment, data=b""))
    else:
        head = _attachment_type_head(maintype, subtype) + line.encode("ascii") + b"\r\n"
    return head + _base64_body(attachment.data)


def _image_bytes(image: InlineImage) -> bytes:
    """The image part as the generator writes it: the stdlib's headers (made for no data:
    the headers do not depend on it), then the base64 body."""
    out = BytesIO()
    generator: BytesGenerator[MIMEPart] = BytesGenerator(out, mangle_from_=False, policy=_POLICY)
    generator.flatten(_image_part(replace(image, data=b"")))
    return out.getvalue() + _base64_body(image.data)


def _multipart_type(subtype: str, boundary: str) -> str:
    """A multipart Content-Type header with its boundary, folded as ``policy.SMTP`` folds
    what ``set_boundary`` stores: on one line if it fits (multipart/mixed with a fresh
    boundary, exactly 78), else the parameter on a line of its own (alternative, related),
    and the stdlib for anything longer."""
    line = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'
    if len(line) <= _MAX_LINE:
        return line + _CRLF
    param = f'boundary="{boundary}"'
    if len(param) + 2 <= _MAX_LINE:
        return f"Content-Type: multipart/{subtype};{_CRLF} {param}{_CRLF}"
    _, header = _POLICY.header_store_parse("Content-Type", line.split(": ", 1)[1])
    return _POLICY.fold_binary("Content-Type", header).decode("ascii")


def _multipart_body(parts: Sequence[bytes]) -> tuple[str, bytes]:
    """A multipart's boundary and what follows its headers, as the generator writes them:
    the boundary is chosen against the parts' texts joined with CRLF."""
    boundary = _make_boundary(b"\r\n".join(parts))
    delimiter = f"--{boundary}".encode("ascii")
    body = b"".join(
        (
            b"\r\n",
            delimiter + b"\r\n",
            (b"\r\n" + delimiter + b"\r\n").join(parts),
            b"\r\n" + delimiter + b"--\r\n",
        )
    )
    return boundary, body


def _build_direct(
    envelope: Envelope,
    rendered: Rendered,
    now: datetime,
    images: Sequence[InlineImage] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """``_build_with_email_package``'s bytes, written directly.

    In the stdlib's order of work, so that the same input fails with the same error and
    the same random state gives the same boundaries: headers parsed as they are set, the
    text parts encoded, images then attachments checked and encoded, and the boundaries
    drawn innermost first (related, alternative, mixed) as the generator draws them.
    """
    head = _Head()
    head.constant("Date", format_datetime(now))
    message_id = envelope.message_id
    head.one_line("Message-ID", message_id, _SIMPLE_MESSAGE_ID.fullmatch(message_id) is not None)
    head.constant("From", envelope.from_header)
    head.to(_single_line(envelope.to_name or "", "To name"), envelope.to)
    if envelope.reply_to:
        reply_to = envelope.reply_to
        head.one_line("Reply-To", reply_to, _SIMPLE_ADDRESS.fullmatch(reply_to) is not None)
    head.unstructured("Subject", _single_line(rendered.subject, "Subject"))
    if envelope.in_reply_to:
        head.unstructured("In-Reply-To", envelope.in_reply_to)
    if envelope.references:
        head.unstructured("References", " ".join(envelope.references))
    head.constant("Auto-Submitted", envelope.auto_submitted)
    head.constant("X-Auto-Response-Suppress", AUTO_RESPONSE_SUPPRESS)
    head.constant(LOOP_HEADER, envelope.loop_marker)
    for name, value in envelope.extra_headers:  # ``msg[name] = value``
        head.stdlib(name, value)
    head.constant("MIME-Version", "1.0")
    plain = _encoded_part(rendered.text, "plain")
    html = _encoded_part(rendered.html, "html")
    inline = [_image_bytes(image) for image in images]
    files = [_attachment_bytes(attachment) for attachment in attachments]
    if inline:  # the HTML becomes the first part of a multipart/related
        boundary, body = _multipart_body([html, *inline])
        html = _multipart_type("related", boundary).encode("ascii") + body
    boundary, body = _multipart_body([plain, html])
    content_type = _multipart_type("alternative", boundary)
    if files:
        # ``make_mixed``: the alternative, its Content-Type moved with it, becomes the
        # first part of a multipart/mixed, the attachments the others.
        boundary, body = _multipart_body([content_type.encode("ascii") + body, *files])
        content_type = _multipart_type("mixed", boundary)
    head.entries.append(content_type)
    return head.fold() + body


def _build_with_email_package(
    envelope: Envelope,
    rendered: Rendered,
    now: datetime,
    images: Sequence[InlineImage] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The message built with :class:`EmailMessage`: the reference for the fast route."""
    # Typed as its base class: typeshed's ``attach`` takes only parts of the receiver's own
    # class, and the parts attached below are MIMEParts (as the stdlib allows).
    msg: MIMEPart = EmailMessage(policy=_POLICY)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = envelope.message_id
    msg["From"] = envelope.from_header
    to_name = envelope.to_name or ""
    msg["To"] = Address(display_name=_single_line(to_name, "To name"), addr_spec=envelope.to)
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = _single_line(rendered.subject, "Subject")
    if envelope.in_reply_to:
        msg["In-Reply-To"] = envelope.in_reply_to
    if envelope.references:
        msg["References"] = " ".join(envelope.references)
    msg["Auto-Submitted"] = envelope.auto_submitted
    msg["X-Auto-Response-Suppress"] = AUTO_RESPONSE_SUPPRESS
    msg[LOOP_HEADER] = envelope.loop_marker
    for name, value in envelope.extra_headers:
        msg[name] = value
    msg["MIME-Version"] = "1.0"

    msg.make_alternative()
    msg.attach(_text_part(rendered.text, "plain"))
    html = _text_part(rendered.html, "html")
    if images:
        related = MIMEPart(policy=_POLICY)
        related.make_related()
        related.attach(html)
        for image in images:
            related.attach(_image_part(image))
        html = related
    msg.attach(html)
    if attachments:
        msg.make_mixed()
        for attachment in attachments:
            msg.attach(_attachment_part(attachment))
    return msg.as_bytes(policy=_POLICY)


def _text_part(body: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    part.set_content(body, subtype=subtype, charset="utf-8", cte=_transfer_encoding(body))
    return part


def _transfer_encoding(body: str) -> str:
    """7bit for short-lined printable ASCII, otherwise quoted-printable (never base64/8bit).

    Control characters other than tab rule out 7bit too (RFC 2045 2.7 forbids NUL and bare
    CR; others are mangled by relays); quoted-printable carries them safely.
    """
    if _SEVEN_BIT.fullmatch(body) and all(len(line) <= _MAX_7BIT_LINE for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"


def _image_part(image: InlineImage) -> MIMEPart:
    if not re.fullmatch(r"[A-Za-z0-9.+-]+", image.subtype):
        raise ValueError(f"image subtype {image.subtype!r} is not a MIME subtype")
    cid = image.cid.strip("<>")
    if not cid or not cid.isascii() or any(c in cid for c in " \t\r\n<>"):
        raise ValueError(f"image content id {image.cid!r} is not usable")
    part = MIMEPart(policy=_POLICY)
    part.set_content(
        image.data,
        maintype="image",
        subtype=image.subtype,
        disposition="inline",
        filename=image.filename,
        cid=f"<{cid}>",
    )
    return part


def _attachment_part(attachment: Attachment, disposition: bool = True) -> MIMEPart:
    maintype, subtype = _attachment_type(attachment)
    part = MIMEPart(policy=_POLICY)
    if not disposition:  # the type's lines alone, for _attachment_type_head
        part.set_content(attachment.data, maintype=maintype, subtype=subtype)
        return part
    part.set_content(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        disposition="attachment",
        filename=_single_line(attachment.filename, "attachment file name"),
    )
    return part


def _attachment_bytes_with_stdlib(attachment: Attachment, disposition: bool = True) -> bytes:
    out = BytesIO()
    generator: BytesGenerator[MIMEPart] = BytesGenerator(out, mangle_from_=False, policy=_POLICY)
    generator.flatten(_attachment_part(attachment, disposition))
    return out.getvalue()


def _single_line(value: str, what: str) -> str:
    """Refuse line breaks of any kind: in a header they would start a new header."""
    if len(value.splitlines()) > 1 or value.endswith(("\r", "\n")):
        raise ValueError(f"{what} must be one line")
    return value


def _check_extra_headers(headers: Sequence[tuple[str, str]]) -> None:
    for name, value in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"extra header name {name!r} is not a valid header name")
        if name.casefold() in _RESERVED:
            raise ValueError(f"extra header {name!r} is set by build_message itself")
        _single_line(value, f"header {name}")
