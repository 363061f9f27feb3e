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


def state_dir(env: Mapping[str, str] | None = None, mail_dir: Path | None = None) -> Path:
    """The folder for what mailcapture keeps between runs that is not the database.

    ``MAILCAPTURE_STATE_DIR`` when set, else the folder that holds the outgoing mail folder
    (``MAILCAPTURE_MAIL_DIR``, default ``mail/outbox``, so ``mail/``; ``/data/mail`` in the
    image): a folder the service may already write to, on its volume, and the same for
    every command that reads the same settings. ``serve`` publishes its workers' state
    there for ``health``; ``publish`` keeps its chart cache there by default.
    """
    env = os.environ if env is None else env
    explicit = env.get("MAILCAPTURE_STATE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    if mail_dir is None:
        mail_dir = Settings.from_environment(env).mail_dir
    return mail_dir.parent


#: ``MAILCAPTURE_CHART_CACHE`` values that turn the chart cache off.
CACHE_OFF = frozenset({"off", "none", "no", "0"})


def chart_cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """Where ``publish`` keeps the charts it has drawn; None when the cache is off.

    ``MAILCAPTURE_CHART_CACHE`` when set (``off`` turns the cache off), else
    ``chart-cache`` in the state folder (:func:`state_dir`): kept between runs like the
    service's state, on the image's volume, and never inside the published folder, which
    is copied as it is to a website.
    """
    env = os.environ if env is None else env
    raw = env.get("MAILCAPTURE_CHART_CACHE", "").strip()
    if raw.lower() in CACHE_OFF:
        return None
    return Path(raw) if raw else state_dir(env) / "chart-cache"


def chart_workers(env: Mapping[str, str] | None = None) -> int:
    """How many processes ``publish`` draws charts with: ``MAILCAPTURE_CHART_WORKERS``, else
    the CPUs this process may run on (its affinity, which a container's ``--cpuset-cpus``
    narrows, rather than every CPU of the host). ``1`` draws in the command's own process.
    """
    env = os.environ if env is None else env
    raw = env.get("MAILCAPTURE_CHART_WORKERS", "").strip()
    if not raw:
        return usable_cpus()
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(
            f"MAILCAPTURE_CHART_WORKERS={raw!r}: expected a whole number of processes, 1 or more"
        )
    return int(raw)


def usable_cpus() -> int:
    """The CPUs this process may run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
