"""Turn a rendered email and its envelope into RFC 5322 bytes, ready for the outbox.

Structure::

    multipart/alternative
      text/plain; charset=utf-8      the form: canonical, what replies are parsed against
      text/html; charset=utf-8       the same content as a readable table
      (or multipart/related: the HTML plus inline images, when images are given)

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
* **Headers** are generated with ``email.policy.SMTP``: non-ASCII display names and
  subjects become RFC 2047 encoded words, long headers fold at 78 characters, and a CR or
  LF in any value is refused rather than allowed to inject a header.
* **No replies from robots to robots.** ``Auto-Submitted`` (RFC 3834) tells well-behaved
  auto-responders not to answer; ``X-Auto-Response-Suppress: OOF, AutoReply`` tells
  Exchange not to send out-of-office notes; :data:`LOOP_HEADER` lets our own inbound
  pipeline recognise mail we sent that came back to us.

Limits: addresses must be ASCII (SMTPUTF8 is not supported; the register's addresses are
checked). A subject containing text that looks like an RFC 2047 encoded word (``=?...?=``)
is sent as is, and readers will decode it; our subject templates never produce one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime

from mailcapture.compose.render import Rendered

__all__ = [
    "LOOP_HEADER",
    "Envelope",
    "InlineImage",
    "build_message",
    "make_message_id",
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
) -> bytes:
    """The complete message as bytes with CRLF line ends (see the module docstring).

    ``now`` must be timezone-aware: the Date header needs a real offset. ``rendered`` text
    and HTML use ``\\n`` line ends and end with one, as :func:`render` makes them. Raises
    ValueError for a naive ``now``, a non-ASCII address, a header value with a line break,
    or a body that breaks those rules.
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

    msg = EmailMessage(policy=_POLICY)
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
