"""When was a milestone completed? One rule for the site, the PDF, the report emails and
the exception report, so they never disagree.

The register's ``completed`` date is what the performance team typed in when they loaded it,
often the date a milestone is *planned* to be finished. The updater who answers
``complete 20 April 2026`` knows the actual date, so a reported date always wins. Without
one, the register's date counts only once it has passed by the report's own date: a
completion date still to come is a plan, and printing it as "completed" would tell members
something that has not happened.

Pure functions: the reference date is passed in, never read from a clock.
"""

from __future__ import annotations

from datetime import date


def completion_date(reported: date | None, planned: date | None, as_at: date) -> date | None:
    """The milestone's completion date as known at ``as_at``, or None when not completed.

    ``reported`` is the date sent with the latest accepted "complete" status for a period
    ending by ``as_at`` (already checked not to be in the future when it was received);
    ``planned`` is the register's date.
    """
    if reported is not None:
        return reported
    if planned is not None and planned <= as_at:
        return planned
    return None
