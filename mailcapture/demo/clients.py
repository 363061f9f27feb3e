"""Replies in the styles of real mail clients, built from a real request we sent.

Used by `mailcapture demo` and by the tests.

Each builder takes the exact bytes of our request (from the outbox) and writes the reply
the way that client does: its quoting, its attribution line, its charset and transfer
encoding, its headers. The layouts follow the real samples in ``tests/corpus/replies``.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid


def parsed(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def plain_text(message: Message) -> str:
    return _first_text(message, "text/plain").replace("\r\n", "\n")


def html_text(message: Message) -> str:
    return _first_text(message, "text/html")


def _first_text(message: Message, content_type: str) -> str:
    """The first ``content_type`` part's body, decoded; refuses one that holds no bytes."""
    part = next(p for p in message.walk() if p.get_content_type() == content_type)
    body = part.get_payload(decode=True)
    if not isinstance(body, bytes):
        raise ValueError(f"the {content_type} part of the request has no body")
    return body.decode(part.get_content_charset() or "utf-8")


def fill_in_place(form_text: str, answers: dict[str, str]) -> str:
    """Type each answer after the colon of its form line, as people do in Outlook."""
    lines = []
    for line in form_text.split("\n"):
        match = re.match(r"^\[([^\]]+)\][^\n]*:\s*$", line)
        if match and match.group(1) in answers:
            line = f"{line.rstrip()} {answers[match.group(1)]}"
        lines.append(line)
    return "\n".join(lines)


def _headers(
    msg: EmailMessage, request: Message, sender: str, when: datetime, subject_prefix: str = "Re: "
) -> None:
    msg["From"] = sender
    msg["To"] = str(request["Reply-To"])
    msg["Subject"] = subject_prefix + " ".join(str(request["Subject"]).split())
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["In-Reply-To"] = str(request["Message-ID"])
    msg["References"] = str(request["Message-ID"])


def outlook_in_place(
    request_raw: bytes,
    sender: str,
    answers: dict[str, str],
    top: str = "",
    when: datetime | None = None,
) -> bytes:
    """Outlook desktop: answers typed into the unprefixed copy under a From/Sent header block;
    windows-1252, quoted-printable; Exchange's X-Auto-Response-Suppress on a human reply."""
    request = parsed(request_raw)
    quoted = fill_in_place(plain_text(request), answers)
    return _outlook(request, sender, top, quoted, when).as_bytes()


def _outlook(
    request: Message, sender: str, top: str, quoted: str, when: datetime | None
) -> EmailMessage:
    """Outlook desktop's reply: ``top``, then ``quoted`` (our request's text) under its
    From/Sent header block; windows-1252 quoted-printable; its own headers."""
    when = when or datetime(2026, 5, 5, 10, 12, tzinfo=UTC)
    body = (
        f"{top}\n\n________________________________\n"
        f"From: {request['From']}\nSent: 01 May 2026 09:00\nTo: {request['To']}\n"
        f"Subject: {' '.join(str(request['Subject']).split())}\n\n" + quoted
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when, "RE: ")
    msg["X-Mailer"] = "Microsoft Outlook 16.0"
    msg["Thread-Index"] = "AdrB7Qm5lM0w0L1vQ2e2v3NfO2mP4A=="
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body, charset="windows-1252", cte="quoted-printable")
    return msg


def gmail_top_posted(
    request_raw: bytes,
    sender: str,
    top: str,
    when: datetime | None = None,
    inline: dict[str, str] | None = None,
    history: str = "",
) -> bytes:
    """Gmail: new text on top, the whole request '> '-quoted below; base64 UTF-8, with HTML.
    ``inline``: answers typed under their form lines in the expanded quote; ``history``: an
    older message quoted deeper."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 6, 14, 3, tzinfo=UTC)
    quoted = quote_inline(plain_text(request), inline or {}, blank=False)
    text = (
        f"{top}\n\nOn Fri, 1 May 2026 at 09:00, Ashdown Performance Team <"
        f"performance@ashdown.example> wrote:\n\n{quoted}\n{_quoted_history(history, '> ')}"
    )
    html = (
        '<div dir="ltr">' + "<br>".join(top.split("\n")) + "</div><br>"
        '<div class="gmail_quote"><div class="gmail_attr">On Fri, 1 May 2026 at 09:00, '
        'Ashdown Performance Team wrote:<br></div><blockquote class="gmail_quote">'
        + html_text(request)
        + "</blockquote></div>"
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when)
    msg.set_content(text, charset="utf-8", cte="base64")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return msg.as_bytes()


def iphone(request_raw: bytes, sender: str, top: str, when: datetime | None = None) -> bytes:
    """iOS Mail: top text, 'Sent from my iPhone', then the attribution and '> ' quote."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 7, 7, 45, tzinfo=UTC)
    quoted = "\n".join("> " + line if line else ">" for line in plain_text(request).split("\n"))
    text = (
        f"{top}\n\nSent from my iPhone\n\n> On 1 May 2026, at 09:00, Ashdown Performance "
        f"Team <performance@ashdown.example> wrote:\n> \n{quoted}\n"
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when)
    msg["X-Mailer"] = "iPhone Mail (21F90)"
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def outlook_web_html_only(
    request_raw: bytes, sender: str, top_lines: list[str], when: datetime | None = None
) -> bytes:
    """Outlook on the web: HTML only, new text in divs, the original under a divider."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 8, 11, 30, tzinfo=UTC)
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '</head><body><div style="font-family: Calibri, sans-serif;">'
        + "".join(f"<div>{line}</div>" for line in top_lines)
        + '</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">'
        "<b>From:</b> Ashdown Performance Team &lt;performance@ashdown.example&gt;<br>"
        "<b>Sent:</b> Friday, May 1, 2026 9:00 AM<br><b>To:</b> you<br>"
        f"<b>Subject:</b> {' '.join(str(request['Subject']).split())}</div><div>"
        + html_text(request)
        + "</div></body></html>"
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when, "RE: ")
    msg.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def phone(request_raw: bytes, sender: str, top: str, when: datetime | None = None) -> bytes:
    """An Android phone: short text, a signature, no quote at all."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 9, 18, 20, tzinfo=UTC)
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when)
    msg.set_content(f"{top}\n\nSent from my Galaxy\n", charset="utf-8")
    return msg.as_bytes()


def out_of_office(
    request_raw: bytes, sender: str, text: str, when: datetime | None = None
) -> bytes:
    """Exchange's automatic reply to our request."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 1, 8, 1, tzinfo=UTC)
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = str(request["Reply-To"])
    msg["Subject"] = "Automatic reply: " + " ".join(str(request["Subject"]).split())
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="exchange.example")
    msg["In-Reply-To"] = str(request["Message-ID"])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-MS-Exchange-Generated-Message-Source"] = "Mailbox Rules Agent"
    msg.set_content(text, charset="utf-8")
    return msg.as_bytes()


def dsn_bounce(request_raw: bytes, failed: str, when: datetime | None = None) -> bytes:
    """A Postfix-style RFC 3464 delivery status notification for our request."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 1, 8, 2, tzinfo=UTC)
    boundary = "dsn-boundary-42"
    head = "\n".join(f"{k}: {v}" for k, v in request.items())
    return (
        f"From: MAILER-DAEMON@mx.ashdown.example (Mail Delivery System)\n"
        f"To: returns@returns.ashdown.example\nSubject: Undelivered Mail Returned to Sender\n"
        f"Date: {format_datetime(when)}\nMessage-ID: <dsn-{failed}@mx.ashdown.example>\n"
        f"Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain\n\nI'm sorry to have to inform you that your "
        f"message could not be delivered.\n\n<{failed}>: host mx said: 550 5.1.1 User unknown\n\n"
        f"--{boundary}\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.ashdown.example\n\nFinal-Recipient: rfc822; {failed}\n"
        f"Original-Recipient: rfc822;{failed}\nAction: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected\n\n"
        f"--{boundary}\nContent-Type: text/rfc822-headers\n\n{head}\n\n--{boundary}--\n"
    ).encode()


# --------------------------------------------------------------------------------------------
# Answering inline, and the clients that quote with "> " (issue 13)
# --------------------------------------------------------------------------------------------

_FORM_ITEM = re.compile(r"^\[([^\]]+)\][^\n]*:\s*$")


def quote_inline(form_text: str, inline: dict[str, str], blank: bool, prefix: str = "> ") -> str:
    """The form quoted with ``prefix``, each ``inline`` answer typed unquoted on its own
    line(s) under its form line, as Apple Mail (``blank``: with a blank line either side),
    Thunderbird and Outlook (``prefix=""``: the unprefixed copy) users answer inline."""
    out: list[str] = []
    for line in form_text.split("\n"):
        out.append(prefix + line if line else prefix.rstrip())
        match = _FORM_ITEM.match(line)
        if match and match.group(1) in inline:
            typed = inline[match.group(1)].split("\n")
            out.extend(["", *typed, ""] if blank else typed)
    return "\n".join(out)


def _quoted_history(history: str, prefix: str) -> str:
    """An older message of the thread, quoted once more under its own attribution."""
    if not history:
        return ""
    older = "\n".join((prefix + "> " + line).rstrip() for line in history.split("\n"))
    return f"\n{prefix}\n{prefix}On 2 Apr 2026, at 10:15, the sender wrote:\n{older}\n"


def apple_mail(
    request_raw: bytes,
    sender: str,
    top: str = "",
    inline: dict[str, str] | None = None,
    history: str = "",
    html_only: bool = False,
    top_html: str | None = None,
    when: datetime | None = None,
) -> bytes:
    """Apple Mail (macOS): new text, the attribution, the request '> '-quoted; answers typed
    inline go on their own lines between blank lines. Plain and HTML (``blockquote
    type="cite"``), quoted-printable; ``html_only`` sends the HTML alone, ``top_html`` is the
    new text as HTML (a pasted table), when it is more than lines of text."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 5, 16, 40, tzinfo=UTC)
    quoted = quote_inline(plain_text(request), inline or {}, blank=True)
    text = (
        f"{top}\n\nOn 1 May 2026, at 09:00, Ashdown Performance Team "
        f"<performance@ashdown.example> wrote:\n\n{quoted}\n{_quoted_history(history, '> ')}"
    )
    html = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8">'
        '</head><body style="overflow-wrap: break-word;">'
        + (top_html or "".join(f"<div>{line or '<br>'}</div>" for line in top.split("\n")))
        + '<div><br><blockquote type="cite"><div>On 1 May 2026, at 09:00, Ashdown '
        "Performance Team &lt;performance@ashdown.example&gt; wrote:</div><br>"
        + html_text(request)
        + "</blockquote></div></body></html>"
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when)
    msg["X-Mailer"] = "Apple Mail (2.3774.600.62)"
    if html_only:
        msg.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
    else:
        msg.set_content(text, charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def thunderbird(
    request_raw: bytes,
    sender: str,
    top: str = "",
    inline: dict[str, str] | None = None,
    history: str = "",
    when: datetime | None = None,
) -> bytes:
    """Thunderbird: ``format=flowed`` UTF-8 text, "On 01/05/2026 09:00, Name wrote:", the
    request '> '-quoted; answers typed inline go directly under their lines."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 6, 8, 55, tzinfo=UTC)
    quoted = quote_inline(plain_text(request), inline or {}, blank=False)
    body = (
        f"{top}\n\nOn 01/05/2026 09:00, Ashdown Performance Team wrote:\n"
        f"{quoted}\n{_quoted_history(history, '> ')}"
    )
    # format=flowed: a space at a line's end would join it to the next; none is meant here.
    body = "\n".join(line.rstrip(" ") for line in body.split("\n"))
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when)
    msg["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.10.0"
    msg.set_content(body, charset="utf-8", cte="8bit")
    msg.set_param("format", "flowed")
    return msg.as_bytes()


def outlook_inline(
    request_raw: bytes,
    sender: str,
    top: str = "",
    inline: dict[str, str] | None = None,
    history: str = "",
    when: datetime | None = None,
) -> bytes:
    """Outlook desktop, answering inline: each answer typed on the line under its form line in
    the unprefixed copy; an older message of the thread under its own header block."""
    request = parsed(request_raw)
    when = when or datetime(2026, 5, 5, 11, 2, tzinfo=UTC)
    older = (
        f"\n\nFrom: {sender}\nSent: 02 April 2026 10:15\nTo: {request['From']}\n"
        f"Subject: RE: March 2026 figures\n\n{history}\n"
        if history
        else ""
    )
    body = (
        f"{top}\n\n________________________________\n"
        f"From: {request['From']}\nSent: 01 May 2026 09:00\nTo: {request['To']}\n"
        f"Subject: {' '.join(str(request['Subject']).split())}\n\n"
        + quote_inline(plain_text(request), inline or {}, blank=False, prefix="")
        + older
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when, "RE: ")
    msg["X-Mailer"] = "Microsoft Outlook 16.0"
    msg["Thread-Index"] = "AdrB7Qm5lM0w0L1vQ2e2v3NfO2mP4B=="
    msg.set_content(body, charset="windows-1252", cte="quoted-printable")
    return msg.as_bytes()


def outlook_web_inline_html(
    request_raw: bytes,
    sender: str,
    top_lines: list[str],
    inline: dict[str, str],
    when: datetime | None = None,
) -> bytes:
    """Outlook on the web, HTML only, answering inline: each answer typed on a line of its own
    under its form line inside the answer form of the quoted request."""
    request = parsed(request_raw)
    html = html_text(request)
    for code, answer in inline.items():
        line = re.search(rf"\[{re.escape(code)}\][^\r\n<]*:(?=\r?\n)", html)
        if line is not None:
            typed = "\r\n".join(answer.split("\n"))
            html = f"{html[: line.end()]}\r\n{typed}{html[line.end() :]}"
    when = when or datetime(2026, 5, 8, 11, 45, tzinfo=UTC)
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '</head><body><div style="font-family: Calibri, sans-serif;">'
        + "".join(f"<div>{line}</div>" for line in top_lines)
        + '</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">'
        "<b>From:</b> Ashdown Performance Team &lt;performance@ashdown.example&gt;<br>"
        "<b>Sent:</b> Friday, May 1, 2026 9:00 AM<br><b>To:</b> you<br>"
        f"<b>Subject:</b> {' '.join(str(request['Subject']).split())}</div><div>"
        + html
        + "</div></body></html>"
    )
    msg = EmailMessage(policy=policy.SMTP)
    _headers(msg, request, sender, when, "RE: ")
    msg.set_content(body, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attached_sheet(request_raw: bytes) -> tuple[str, bytes]:
    """The spreadsheet form attached to our request: its file name and bytes."""
    for part in parsed(request_raw).walk():
        if part.get_content_type() == XLSX:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return part.get_filename() or "", payload
    raise LookupError("the request has no spreadsheet form attached")


def outlook_with_attachment(
    request_raw: bytes,
    sender: str,
    top: str,
    filename: str,
    data: bytes,
    content_type: str = XLSX,
    when: datetime | None = None,
) -> bytes:
    """Outlook desktop with a file attached (the filled-in form, or any other): the text
    on top of the quoted request, windows-1252 quoted-printable, the file base64 after it,
    ``multipart/mixed`` as Outlook sends an attachment."""
    request = parsed(request_raw)
    msg = _outlook(request, sender, top, plain_text(request), when)
    maintype, subtype = content_type.split("/", 1)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
