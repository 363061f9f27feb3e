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
* **Transfer encoding: 7bit or quoted-printable, never base64 or 8bit.** A part that is
  ASCII with no line over 78 characters goes as 7bit, readable as-is in any raw view.
  Anything else is quoted-printable, which keeps the form legible in a raw view, survives
  relays without 8BITMIME and decodes to exactly the rendered text. (The stdlib would pick
  base64 for text with many non-ASCII characters; we choose explicitly.)
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

import functools
import random
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
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

    The bytes are those :mod:`email` with ``policy.SMTP`` generates (see "Speed" below);
    requests, reminders and notices take the fast route, messages with inline images,
    extra headers or attachments the :mod:`email` package itself.
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
    if images or envelope.extra_headers or attachments:
        return _build_with_email_package(envelope, rendered, now, images, attachments)
    return _build_direct(envelope, rendered, now)


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
# CPython 3.11's ``email`` package writes, boundary aside: checked over generated inputs
# while writing this, and by ``benchmarks/requests.py`` on every run for a sample.

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


def _build_direct(envelope: Envelope, rendered: Rendered, now: datetime) -> bytes:
    """``_build_with_email_package``'s bytes for a message without images or extra headers."""
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
    head.constant("MIME-Version", "1.0")
    plain = _encoded_part(rendered.text, "plain")
    html = _encoded_part(rendered.html, "html")
    boundary = _make_boundary(plain + b"\r\n" + html)
    head.entries.append(f'Content-Type: multipart/alternative;{_CRLF} boundary="{boundary}"{_CRLF}')
    delimiter = f"--{boundary}".encode("ascii")
    return b"".join(
        (
            head.fold(),
            b"\r\n",
            delimiter + b"\r\n",
            plain,
            b"\r\n" + delimiter + b"\r\n",
            html,
            b"\r\n" + delimiter + b"--\r\n",
        )
    )


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


def _attachment_part(attachment: Attachment) -> MIMEPart:
    for what, value in (("type", attachment.maintype), ("subtype", attachment.subtype)):
        if not re.fullmatch(r"[A-Za-z0-9.+-]+", value):
            raise ValueError(f"attachment {what} {value!r} is not a MIME {what}")
    part = MIMEPart(policy=_POLICY)
    part.set_content(
        attachment.data,
        maintype=attachment.maintype,
        subtype=attachment.subtype,
        disposition="attachment",
        filename=_single_line(attachment.filename, "attachment file name"),
    )
    return part


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
