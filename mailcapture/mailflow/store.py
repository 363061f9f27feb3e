"""Stage 1: commit the raw bytes before anything else happens to a message.

Only the cheapest parse happens here (the header block, for Message-ID and From), so a
message that breaks every later stage is still stored. Duplicates are stored too, as
rows pointing at the original, and are never processed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcapture.db.models import InboundMessage
from mailcapture.domain.enums import InboundState
from mailcapture.parsing.mime import decode_rfc2047, normalise_message_id, strip_trace_headers

_HEADERS = BytesHeaderParser(policy=compat32)


@dataclass(frozen=True)
class StoredMessage:
    id: int
    duplicate_of: int | None


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
    without its trace headers.
    """
    if message_id:
        basis = f"mid\0{message_id}\0{sender or ''}".encode()
    else:
        basis = b"raw\0" + hashlib.sha256(strip_trace_headers(raw)).digest()
    return hashlib.sha256(basis).hexdigest()


def header_facts(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(normalised Message-ID, lower-case From address, decoded Subject), tolerantly."""
    try:
        headers = _HEADERS.parsebytes(raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    except Exception:
        return None, None, None
    message_id = normalise_message_id(str(headers.get("Message-ID") or "") or None)
    sender = None
    addresses = getaddresses([str(v) for v in headers.get_all("From") or []])
    for _, address in addresses:
        if "@" in address:
            sender = address.strip().lower()
            break
    subject = headers.get("Subject")
    return message_id, sender, decode_rfc2047(str(subject)) if subject is not None else None


def store_raw(session: Session, raw: bytes, envelope: Envelope, now: datetime) -> StoredMessage:
    """Insert the message; a second copy becomes a DUPLICATE row pointing at the first."""
    message_id, sender, subject = header_facts(raw)
    key = dedupe_key(raw, message_id, sender)
    values: dict[str, Any] = {
        "received_at": now,
        "source": envelope.source,
        "source_ref": envelope.source_ref,
        "envelope_from": envelope.mail_from,
        "envelope_to": list(envelope.rcpt_to) or None,
        "raw": raw,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "dedupe_key": key,
        "message_id": message_id,
        "sender": sender,
        "subject": _clip(subject),
    }
    new_id = _insert_unless_known(session, values)
    if new_id is not None:
        return StoredMessage(new_id, None)
    original = session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.dedupe_key == key, InboundMessage.duplicate_of_id.is_(None)
        )
    )
    if original is None:
        # The ON CONFLICT path found a copy that is gone again: the ordinary insert decides.
        return StoredMessage(_insert_with_savepoint(session, values), None)
    row = InboundMessage(**values)
    row.duplicate_of_id = original
    row.state = InboundState.DUPLICATE
    row.outcome = "duplicate"
    row.outcome_detail = f"same message as #{original}; not applied again"
    row.processed_at = now
    row.attempts = 0
    session.add(row)
    session.flush()
    return StoredMessage(row.id, original)


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


def _clip(text: str | None, limit: int = 2000) -> str | None:
    if text is None:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
