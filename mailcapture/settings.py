"""Configuration from the environment, checked once at start-up.

Every setting has one environment variable; a wrong value is a :class:`SettingsError`
with a one-line reason, raised before any work starts (never a traceback later).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///mailcapture.db"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable and the reason."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    config_dir: Path
    mail_dir: Path
    smtp_url: str | None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        url = env.get("MAILCAPTURE_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        if "://" not in url:
            raise SettingsError(
                f"MAILCAPTURE_DATABASE_URL={url!r} is not a database URL "
                "(expected e.g. sqlite:///mailcapture.db or postgresql+psycopg://host/db)"
            )
        return cls(
            database_url=normalise_database_url(url),
            config_dir=Path(env.get("MAILCAPTURE_CONFIG", "").strip() or "config"),
            mail_dir=Path(env.get("MAILCAPTURE_MAIL_DIR", "").strip() or "mail/outbox"),
            smtp_url=env.get("MAILCAPTURE_SMTP_URL", "").strip() or None,
        )


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
