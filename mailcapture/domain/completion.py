"""When was a milestone completed? One rule for the site, the PDF, the report emails and
the exception report, so they never disagree; and whether it is still asked for at all
(:func:`finished_before`, used by the request timetable).

The register's ``completed`` date is what the performance team typed in when they loaded it,
often the date a milestone is *planned* to be finished. The updater who answers
``complete 20 April 2026`` knows the actual date, so a reported date always wins. Without
one, the register's date counts only once it has passed by the report's own date: a
completion date still to come is a plan, and printing it as "completed" would tell members
something that has not happened.

Pure functions: the reference date is passed in, never read from a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


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


@dataclass(frozen=True)
class StatusAnswer:
    """The latest status answered for a milestone, for a period before the one in question.

    ``received_at`` is when that answer came in: a register edit loaded after it takes the
    decision back (see :func:`finished_before`).
    """

    complete: bool
    received_at: datetime


def finished_before(
    start: date,
    *,
    planned: date | None,
    answer: StatusAnswer | None,
    register_edited_at: datetime | None,
) -> bool:
    """Is the milestone finished before the period that starts on ``start``?

    A finished milestone is no longer asked for, chased or counted in the returns, so this
    decides who gets a form line. The answers people send win, latest first:

    * The latest status answered for an earlier period is "complete" (with a date or
      without one): finished. Asking again would only get "complete" again, and would
      list the milestone as a missing return when nobody bothers to answer.
    * A later answer that is not "complete" (the updater writes "delayed" on the form they
      had answered "complete" on) re-opens it: the latest answer is what counts.
    * The register edited after that answer (a load that added, changed or restored the
      milestone) hands the decision back to the register: the performance team changing
      a finished milestone's dates means it is not finished after all, unless the
      register itself now says it is.
    * The register's own date counts as in :func:`completion_date`: a date before the
      period starts (and so already passed when its requests go out) finishes it.
    """
    if (
        answer is not None
        and answer.complete
        and (register_edited_at is None or answer.received_at > register_edited_at)
    ):
        return True
    before = start - timedelta(days=1)
    return completion_date(None, planned, before) is not None
