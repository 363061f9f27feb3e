"""Configuration from the environment, checked once at start-up.

Every setting has one environment variable; a wrong value is a :class:`SettingsError`
with a one-line reason, raised before any work starts (never a traceback later).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from mailcapture.errors import UserError

DEFAULT_DATABASE_URL = "sqlite:///mailcapture.db"

#: The URL schemes mailcapture is built and tested for, and the driver module each needs
#: beyond the standard library (plain ``postgresql://`` is normalised to psycopg 3).
SUPPORTED_DATABASES = {"sqlite": None, "sqlite+pysqlite": None, "postgresql+psycopg": "psycopg"}
SUPPORTED_HINT = "sqlite:///PATH or postgresql://USER@HOST/DATABASE"


class SettingsError(UserError, ValueError):
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
        url = normalise_database_url(url)
        check_database_url(url)
        return cls(
            database_url=url,
            config_dir=Path(env.get("MAILCAPTURE_CONFIG", "").strip() or "config"),
            mail_dir=Path(env.get("MAILCAPTURE_MAIL_DIR", "").strip() or "mail/outbox"),
            smtp_url=env.get("MAILCAPTURE_SMTP_URL", "").strip() or None,
        )


def check_database_url(url: str) -> None:
    """Refuse, in one line, a URL for a database we do not support or have no driver for.

    Checked before SQLAlchemy sees the URL: it would otherwise fail later with a traceback
    about a missing driver module (``mysql://`` wants MySQLdb). ``url`` is normalised.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise SettingsError(
            f"MAILCAPTURE_DATABASE_URL={url!r} is not a database URL (use {SUPPORTED_HINT})"
        )
    if scheme not in SUPPORTED_DATABASES:
        raise SettingsError(
            f"MAILCAPTURE_DATABASE_URL: {scheme}:// is not supported (use {SUPPORTED_HINT})"
        )
    module = SUPPORTED_DATABASES[scheme]
    if module is not None and find_spec(module) is None:
        raise SettingsError(
            f"MAILCAPTURE_DATABASE_URL: PostgreSQL needs the {module} driver: "
            "pip install 'mailcapture[postgres]'"
        )


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
