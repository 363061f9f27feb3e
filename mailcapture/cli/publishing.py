"""``mailcapture publish``: write the static site and the report PDF for a period.

Kept out of :mod:`.main` so the command's options and errors live beside each other;
:mod:`.main` only registers :func:`publish`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailcapture.cli.commands import console
from mailcapture.domain.periods import PeriodError, parse_period
from mailcapture.runtime import Runtime
from mailcapture.settings import SettingsError


def publish(
    period: Annotated[str, typer.Option(help='A quarter or a year, e.g. "2026/27 Q1"')],
    out: Annotated[Path, typer.Option(help="Folder to write the site and PDF into")],
    now: Annotated[
        str | None,
        typer.Option("--now", help="Pretend it is this (local) ISO date-time (data as at)"),
    ] = None,
) -> None:
    """Write the performance report for PERIOD as a static website and a PDF into OUT."""
    from mailcapture.cli.main import _now_option
    from mailcapture.publish.site import PublishError
    from mailcapture.publish.site import publish as write_site

    _now_option(now)
    try:
        chosen = parse_period(period)
    except PeriodError as exc:
        raise SettingsError(f"--period: {exc}") from None
    runtime = Runtime.from_environment()
    runtime.require_schema()
    try:
        with runtime.sessions() as session:
            published = write_site(session, chosen, runtime.clock.now(), out)
    except PublishError as exc:
        raise SettingsError(str(exc)) from None
    finally:
        runtime.close()
    console.print(f"{len(published.files)} file(s) written to {out}, report {published.pdf}")
