"""Stage 1: commit the raw bytes before anything else happens to a message.

Only the cheapest parse happens here (the header block, for Message-ID and From), so a
message that breaks every later stage is still stored. Duplicates are stored too, as
rows pointing at the original, and are never processed.

A duplicate is the same message delivered again: the same Message-ID and sender *and* the
same content once the headers added in transit are set aside (``strip_trace_headers``).
The same Message-ID with different content is a different message (a client that reuses
Message-IDs, a corrected resend, or a forgery meant to shadow a real answer): it is stored
under a key of its own, processed, and flagged in its stages (``same-message-id``) so an
operator can see both. The key is still one column under one partial unique index, so two
processes storing the same copy at once still store it once.

Nothing a sender writes may stop a message being stored: the listener answers 451 to a
failed store, and the sending server retries the same bytes for days. So the raw bytes go
into a binary column as they are, and every header fact kept in a text column (Message-ID,
sender, subject, the envelope) is made storable first (:func:`storable`): no NUL or other
control character (PostgreSQL text refuses NUL), no lone surrogate (neither database can
encode one), no more characters than the column holds. The only failure left is the
database's own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import Compat32
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcapture.db.models import InboundMessage
from mailcapture.domain.enums import InboundState
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.parsing.mime import decode_rfc2047, normalise_message_id, strip_trace_headers


class _RawHeaders(Compat32):
    """compat32 that hands header values back as written (8-bit bytes surrogate-escaped),
    never as ``email.header.Header`` objects, whose ``str()`` drops 8-bit text."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_HEADERS = BytesHeaderParser(policy=_RawHeaders())

#: Column sizes of the header facts (``db/models/inbound.py``).
SENDER_CHARS = 320
MESSAGE_ID_CHARS = 998
SOURCE_CHARS = 16
SOURCE_REF_CHARS = 500
SUBJECT_CHARS = 2000
#: Recipients kept from the SMTP envelope (each an address of at most SENDER_CHARS).
ENVELOPE_RECIPIENTS = 100

_LINE_BREAKS = re.compile(r"[\t\r\n]+")
#: Controls inside an address (after unfolding), shown as U+FFFD, never deleted.
_ADDRESS_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class StoredMessage:
    id: int
    duplicate_of: int | None
    #: An earlier message with the same Message-ID and sender but different content.
    same_message_id_as: int | None = None


#: The stage that flags a message sharing its Message-ID with different content.
SAME_MESSAGE_ID = "same-message-id"


def same_message_id_note(stages: list[dict[str, Any]] | None) -> str | None:
    """The flag :func:`store_raw` left on a message whose Message-ID an earlier message with
    different content has, as words for its outcome detail; None for any other message."""
    for stage in stages or []:
        if stage.get("stage") == "store" and stage.get("result") == SAME_MESSAGE_ID:
            return str(stage.get("detail") or SAME_MESSAGE_ID)
    return None


@dataclass(frozen=True)
class Envelope:
    """What the transport knew: where it came from, SMTP envelope, a reference inside it."""

    source: str
    source_ref: str | None = None
    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()


def dedupe_key(raw: bytes, message_id: str | None, sender: str | None) -> str:
    """A key that survives re-delivery (which adds Received: and friends).

    The normalised Message-ID with the sender when there is a Message-ID (so a forged
    Message-ID cannot shadow somebody else's message); otherwise a hash of the message
    without its trace headers. A second message under the same Message-ID key whose content
    differs gets :func:`variant_key` instead.
    """
    if message_id:
        basis = f"mid\0{message_id}\0{sender or ''}".encode()
    else:
        basis = b"raw\0" + content_digest(raw)
    return hashlib.sha256(basis).hexdigest()


def content_digest(raw: bytes) -> bytes:
    """SHA-256 of the message without the headers added in transit: equal for re-deliveries
    of one message (over SMTP and again over IMAP, through a forwarder), different when
    anything its author wrote differs."""
    return hashlib.sha256(strip_trace_headers(raw)).digest()


def variant_key(key: str, raw: bytes) -> str:
    """The key of a message whose Message-ID key ``key`` is taken by different content."""
    return hashlib.sha256(b"variant\0" + key.encode() + b"\0" + content_digest(raw)).hexdigest()


def storable(text: str | None, limit: int) -> str | None:
    """``text`` as one line any text column takes: line breaks and tabs become one space,
    other control characters and lone surrogates go, and at most ``limit`` characters (the
    last one ``…`` when cut, so a cut address never equals a real one). None stays None."""
    if text is None:
        return None
    text = _UNSTORABLE.sub("", _LINE_BREAKS.sub(" ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_text(value: str) -> str:
    """A header value as the parser gives it, its raw 8-bit bytes read as UTF-8 (or U+FFFD).

    The decode stage reads such bytes properly (with the body's charset, or a guess); here
    they only need to become characters a text column takes.
    """
    if value.isascii():
        return value
    try:
        return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # already characters, not escaped bytes
        return value


def header_facts(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(normalised Message-ID, lower-case From address, decoded Subject), each storable.

    Tolerant by construction: the stdlib's header parser records defects instead of
    raising, and the Message-ID, address and subject readers below are total. The address
    is the first From header's, as the decode stage reads it; a control character in it is
    kept as U+FFFD (as the decode stage keeps it) rather than deleted, so a damaged address
    is never read as somebody's real one.
    """
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    # Only the header block: the header parser reads the body too, a line at a time (4 s
    # for 20 MB of empty lines, before anything is stored). What it would call the headers
    # ends at the first blank line at the latest, so it reads the same headers from this.
    end = data.find(b"\n\n")
    headers = _HEADERS.parsebytes(data[: end + 1] if end >= 0 else data)
    raw_id = headers.get("Message-ID")
    message_id = normalise_message_id(raw_id) if isinstance(raw_id, str) else None
    sender = None
    froms = [_as_text(v).replace("\n", "") for v in headers.get_all("From") or []]
    for _, address in getaddresses(froms[:1]):
        if "@" in address:
            address = _ADDRESS_CONTROL.sub("\ufffd", address)
            sender = storable(address.strip().lower(), SENDER_CHARS)
            break
    subject = headers.get("Subject")
    if subject is None:
        return message_id, sender, None
    return message_id, sender, storable(decode_rfc2047(_as_text(str(subject))), SUBJECT_CHARS)


def store_raw(session: Session, raw: bytes, envelope: Envelope, now: datetime) -> StoredMessage:
    """Insert the message; a second copy becomes a DUPLICATE row pointing at the first."""
    message_id, sender, subject = header_facts(raw)
    key = dedupe_key(raw, message_id, sender)
    recipients = [storable(r, SENDER_CHARS) or "" for r in envelope.rcpt_to]
    values: dict[str, Any] = {
        "received_at": now,
        "source": storable(envelope.source, SOURCE_CHARS) or "?",
        "source_ref": storable(envelope.source_ref, SOURCE_REF_CHARS),
        "envelope_from": storable(envelope.mail_from, SENDER_CHARS),
        "envelope_to": recipients[:ENVELOPE_RECIPIENTS] or None,
        "raw": raw,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "dedupe_key": key,
        "message_id": message_id,
        "sender": sender,
        "subject": subject,
    }
    new_id = _insert_unless_known(session, values)
    if new_id is not None:
        return StoredMessage(new_id, None)
    original = _original(session, key)
    if original is None:
        # The ON CONFLICT path found a copy that is gone again: the ordinary insert decides.
        return StoredMessage(_insert_with_savepoint(session, values), None)
    same_id_as: int | None = None
    if message_id and not _same_content(session, original, raw):
        # Same Message-ID and sender, different content: a message of its own, under its
        # own key (a second copy of *it* is then a duplicate of it), flagged.
        same_id_as = original
        key = variant_key(key, raw)
        values["dedupe_key"] = key
        values["stages"] = [
            {
                "stage": "store",
                "result": SAME_MESSAGE_ID,
                "detail": f"same Message-ID as #{original} but different content: "
                "processed as a message of its own",
                "at": now.isoformat(),
            }
        ]
        new_id = _insert_unless_known(session, values)
        if new_id is not None:
            return StoredMessage(new_id, None, same_id_as)
        original = _original(session, key)
        if original is None:
            return StoredMessage(_insert_with_savepoint(session, values), None, same_id_as)
        values.pop("stages")
    row = InboundMessage(**values)
    row.duplicate_of_id = original
    row.state = InboundState.DUPLICATE
    row.outcome = Outcome.DUPLICATE.value
    row.outcome_detail = f"same message as #{original}; not applied again"
    row.processed_at = now
    row.attempts = 0
    session.add(row)
    session.flush()
    return StoredMessage(row.id, original)


def _original(session: Session, key: str) -> int | None:
    """The processed (not duplicate) message stored under ``key``, if any."""
    return session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.dedupe_key == key, InboundMessage.duplicate_of_id.is_(None)
        )
    )


def _same_content(session: Session, original: int, raw: bytes) -> bool:
    """Is ``raw`` the message stored as ``original``, delivered again?

    The same bytes are (checked by their SHA-256 first, no raw read); otherwise the two are
    compared without their trace headers, line endings normalised.
    """
    row = InboundMessage.id == original
    if session.scalar(select(InboundMessage.sha256).where(row)) == hashlib.sha256(raw).hexdigest():
        return True  # a retry of the same bytes: the common case, and no raw read
    stored = session.scalar(select(InboundMessage.raw).where(row))
    return stored is not None and content_digest(bytes(stored)) == content_digest(raw)


def _conflict_insert(dialect: str) -> postgresql.Insert | sqlite.Insert | None:
    """An ``INSERT`` that can say ``ON CONFLICT DO NOTHING``, in the dialects we run on."""
    if dialect == "postgresql":
        return postgresql.insert(InboundMessage)
    if dialect == "sqlite":
        return sqlite.insert(InboundMessage)
    return None


def _insert_unless_known(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a new message; None when a non-duplicate row already holds its key.

    One statement: the conflict target is the partial unique index on ``dedupe_key``, so
    no savepoint is needed to survive a second copy (PostgreSQL waits for a concurrent
    insert of the same key to commit or roll back, exactly as the index itself would).
    """
    insert = _conflict_insert(session.get_bind().dialect.name)
    if insert is None:
        try:
            return _insert_with_savepoint(session, values)
        except IntegrityError:
            return None
    statement = (
        insert.values(**values, state=InboundState.RECEIVED, attempts=0)
        .on_conflict_do_nothing(
            index_elements=[InboundMessage.dedupe_key],
            index_where=InboundMessage.duplicate_of_id.is_(None),
        )
        .returning(InboundMessage.id)
    )
    return session.execute(statement).scalar()


def _insert_with_savepoint(session: Session, values: dict[str, Any]) -> int:
    row = InboundMessage(**values, state=InboundState.RECEIVED, attempts=0)
    with session.begin_nested():
        session.add(row)
    return row.id
