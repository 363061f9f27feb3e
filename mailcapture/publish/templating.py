"""The site's templates: where they are, and the one Jinja environment both outputs render with.

The pages (:mod:`.site`) and the PDF (:mod:`.pdf`) are written from the same templates with
the same filters, so they share their wording. This used to live in :mod:`.site`, which
imports :mod:`.pdf` to write the PDF, so :mod:`.pdf` importing it back made a cycle (issue
14); both now import it from here.
"""

from __future__ import annotations

import functools
from pathlib import Path

from jinja2 import Environment

from mailcapture.publish import formatting as fmt
from mailcapture.resources import package_dir
from mailcapture.templating import strict_environment

#: ``templates/site/`` in the package: the page templates, ``report.html`` and ``style.css``.
SITE_TEMPLATES: Path = package_dir("templates", "site")


@functools.cache
def environment() -> Environment:
    """The site's Jinja environment: HTML autoescaped, undefined names an error."""
    env = strict_environment(SITE_TEMPLATES, escape_strings=True)
    env.filters.update(
        figure=fmt.figure,
        target_text=fmt.target_text,
        notes=fmt.notes,
        rag_word=fmt.rag_word,
        trend_word=fmt.trend_word,
        milestone_word=fmt.milestone_word,
        day=fmt.day,
        local_time=fmt.local_time,
        percent=fmt.percent,
    )
    return env
