"""``mailcapture publish``: write the static site and the report PDF for a period.

Imported only when ``publish`` runs: it is the one command that loads matplotlib (charts)
and WeasyPrint (the PDF).
"""

from __future__ import annotations

from pathlib import Path

from mailcapture.cli.output import console, progress_bar
from mailcapture.cli.periods import period_argument
from mailcapture.runtime import Runtime


def publish(period: str, out: Path) -> None:
    """Write the performance report for ``period`` as a static website and a PDF into ``out``."""
    from mailcapture.publish.site import publish as write_site

    # The quarter's or year's figures are computed from the months inside it (content.py).
    chosen = period_argument(period)
    runtime = Runtime.from_environment()
    runtime.require_schema()
    try:
        with runtime.sessions() as session, progress_bar() as progress:
            published = write_site(session, chosen, runtime.clock.now(), out, progress=progress)
    finally:
        runtime.close()
    console.print(f"{len(published.files)} file(s) written to {out}, report {published.pdf}")
