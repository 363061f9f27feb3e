"""``mailcapture load``: validate a register folder, then apply it in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db.engine import transaction
from mailcapture.db.models import RegisterLoad
from mailcapture.register.sync import Changes, sync_register
from mailcapture.register.validate import load_register


@dataclass(frozen=True)
class LoadResult:
    changes: Changes
    digest: str
    load_id: int | None


def digest_folder(folder: Path) -> str:
    """A fingerprint of the register files, recorded with each load for the audit trail."""
    sha = hashlib.sha256()
    for path in sorted(folder.glob("*.y*ml")):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def load_folder(folder: Path, sessions: sessionmaker[Session], now: datetime) -> LoadResult:
    """Validate everything first (raises RegisterInvalid, writing nothing), then apply.

    A load that changes nothing leaves no trace at all, which is what makes a second
    ``load`` of the same folder a true no-op.
    """
    register = load_register(folder)
    digest = digest_folder(folder)
    with transaction(sessions) as session:
        changes = sync_register(session, register, now)
        load_id = None
        if not changes.empty:
            record = RegisterLoad(
                loaded_at=now,
                source=str(folder.resolve()),
                digest=digest,
                changes=changes.as_dict(),
            )
            session.add(record)
            session.flush()
            load_id = record.id
    return LoadResult(changes, digest, load_id)
