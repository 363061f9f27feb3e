"""``mailcapture returns``: who has returned what, live, per person and item.

Until this command, who had not replied was visible only in the returns summary email (a
working day after the deadline) or through a database client. The work is done in
:mod:`mailcapture.reports.returns_view` (shared with the site's ``returns.html``); this
module reads ``--period`` through :mod:`.periods` (a quarter or a year covers its months)
and prints. CSV goes through :func:`mailcapture.reports.export.to_csv`, which neutralises
cells a spreadsheet would run as formulas: names and titles come from the register and
the mail, not from us.
"""

from __future__ import annotations

import sys
from datetime import datetime

from rich.console import Console
from rich.table import Table

from mailcapture.cli.periods import periods_covered
from mailcapture.errors import UserError
from mailcapture.reports import export
from mailcapture.reports.returns_view import (
    Escalation,
    ReturnsByPerson,
    latest_request_periods,
    local_day,
    returns_by_person,
    returns_table,
)
from mailcapture.runtime import Runtime

FORMATS = ("table", "csv", "json")

#: No markup: names, titles and codes such as ``[BV8a]`` are printed as they are.
console = Console(highlight=False, markup=False)


def returns(period: str | None, fmt: str) -> None:
    """Print each person's items for ``period`` (default: the latest round of requests)
    with their status and the reminders and escalations sent, as a table, CSV or JSON."""
    if fmt not in FORMATS:
        raise UserError("returns can be listed as table, csv or json")
    covered = periods_covered(period)  # before the database: a bad --period fails at once
    runtime = Runtime.from_environment()
    runtime.require_schema()
    try:
        now = runtime.clock.now()
        with runtime.sessions() as session:
            chosen = covered if covered is not None else latest_request_periods(session)
            view = returns_by_person(session, chosen, now)
    finally:
        runtime.close()
    if fmt == "csv":
        sys.stdout.write(export.to_csv(returns_table(view)))
    elif fmt == "json":
        sys.stdout.write(export.to_json(returns_table(view, lists=True)) + "\n")
    else:
        _print_table(view, period)


def _print_table(view: ReturnsByPerson, asked: str | None) -> None:
    if not view.lines:
        which = f"for {asked}" if asked else "yet"
        console.print(f"no requests {which}", soft_wrap=True)
        return
    table = Table(title=f"Returns for {', '.join(view.periods)}", title_justify="left")
    for column in ("period", "person", "item", "status", "due", "returned", "reminders"):
        table.add_column(column)
    table.add_column("escalations")
    for line in view.lines:
        table.add_row(
            line.period,
            line.person,
            line.item,
            line.status_text,
            local_day(line.due_at),
            local_day(line.returned_at) if line.returned_at else "",
            _chased(line.reminders),
            _escalated(line.escalations),
        )
    console.print(table)
    counts = ", ".join(f"{n} {status.value}" for status, n in view.counts().items())
    console.print(f"{len(view.lines)} item(s): {counts}", soft_wrap=True)


def _chased(when: tuple[datetime, ...]) -> str:
    """``2: 2026-05-12, 2026-05-14``, or ``0``."""
    if not when:
        return "0"
    return f"{len(when)}: " + ", ".join(local_day(at) for at in when)


def _escalated(steps: tuple[Escalation, ...]) -> str:
    """``2: 2026-05-19 owner, 2026-05-22 head``, or ``0``."""
    if not steps:
        return "0"
    return f"{len(steps)}: " + ", ".join(f"{s.day.isoformat()} {s.level}" for s in steps)
