"""Commands for the rules and records: targets, period locks and the indicators export.

``mailcapture target set|list``, ``mailcapture lock|unlock`` and ``mailcapture export
indicators``. The work is done in :mod:`mailcapture.reports.targets`,
:mod:`mailcapture.reports.period_locks` and :mod:`mailcapture.reports.indicator_export`;
this module checks arguments and prints (the options are declared in :mod:`.main`). A
refusal or bad argument is a :class:`UserError`: one line, ``mailcapture: error: reason``,
exit 1, with nothing written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from mailcapture.cli.periods import period_argument
from mailcapture.clock import LOCAL_TZ
from mailcapture.domain.figures import plain_number
from mailcapture.domain.periods import Period
from mailcapture.errors import UserError
from mailcapture.reports import export
from mailcapture.reports.indicator_export import indicators_table
from mailcapture.reports.period_locks import LockOutcome, LockRefused, lock_period, unlock_period
from mailcapture.reports.targets import (
    TargetError,
    changes_recorded,
    parse_decimal,
    parse_tolerance,
    set_target,
    targets_listed,
)
from mailcapture.runtime import Runtime

console = Console(highlight=False, markup=False)


def _fail(reason: str) -> NoReturn:
    """One line and exit 1, through the error handling in :mod:`.main`."""
    raise UserError(reason)


def _period(text: str, option: str = "PERIOD") -> Period:
    """A PERIOD argument or ``--period``, read as every command reads it (:mod:`.periods`)."""
    return period_argument(text, option)


def _runtime() -> Runtime:
    runtime = Runtime.from_environment()
    runtime.require_schema()
    return runtime


def _figure(value: Decimal | None) -> str:
    return "" if value is None else plain_number(value)


# --------------------------------------------------------------------------- targets


def target_set(
    code: str, period: str, value: str, reason: str, approved_by: str, tolerance: str | None
) -> None:
    """Change a target, if the approver has the authority; the change is recorded."""
    when = _period(period)
    try:
        new = parse_decimal(value, "target")
        band = parse_tolerance(tolerance) if tolerance is not None else None
    except TargetError as exc:
        _fail(str(exc))
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            change = set_target(
                session,
                code,
                when,
                new,
                reason=reason,
                approved_by=approved_by,
                now=runtime.clock.now(),
                tolerance=band,
            )
    except TargetError as exc:
        _fail(str(exc))
    finally:
        runtime.close()
    old = "none" if change.old is None else plain_number(change.old)
    console.print(
        f"{change.code} {change.period} target {old} -> {plain_number(new)}, "
        f"approved by {change.approved_by} ({change.authority.replace('_', ' ')})",
        soft_wrap=True,
    )


def target_list(period: str | None) -> None:
    """Targets, and the target changes recorded with their authority; with ``--period``,
    those for it and for the periods inside it (a quarter's months)."""
    when = _period(period, "--period") if period is not None else None
    runtime = _runtime()
    with runtime.sessions() as session:
        targets = targets_listed(session, when)
        changes = changes_recorded(session, when)
    runtime.close()
    table = Table(title="Targets" + (f" for {when.code}" if when else ""))
    for column in ("indicator", "period", "target", "tolerance"):
        table.add_column(column)
    for t in targets:
        band = _figure(t.tolerance) + ("%" if t.tolerance_kind.value == "percent" else "")
        table.add_row(t.code, t.period, _figure(t.value), band if t.tolerance is not None else "")
    console.print(table)
    log = Table(title="Target changes recorded")
    for column in ("recorded", "indicator", "period", "old", "new", "approved by", "reason"):
        log.add_column(column)
    for c in changes:
        log.add_row(
            f"{c.recorded_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}",
            c.code,
            c.period,
            _figure(c.old),
            _figure(c.new),
            f"{c.approved_by} ({c.authority.replace('_', ' ')})",
            c.reason,
        )
    console.print(log if changes else "no target changes recorded")


# --------------------------------------------------------------------------- locks


def lock(period: str, by: str, reason: str | None, force: bool) -> None:
    """Lock a period: no more values, statuses, sign-offs or commentary by email."""
    when = _period(period)
    _lock_command(
        lambda session, at: lock_period(session, when, by=by, now=at, reason=reason, force=force)
    )


def unlock(period: str, by: str, reason: str) -> None:
    """Reopen a locked period; the lock is kept, stamped with who, when and why."""
    when = _period(period)
    _lock_command(lambda session, at: unlock_period(session, when, by=by, reason=reason, now=at))


def _lock_command(change: Callable[[Session, datetime], LockOutcome]) -> None:
    """Run a lock or unlock in one transaction and print what it did, or why it was refused."""
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            outcome = change(session, runtime.clock.now())
    except LockRefused as exc:
        _fail(str(exc))
    finally:
        runtime.close()
    console.print(outcome.message, soft_wrap=True)


# --------------------------------------------------------------------------- export


def export_indicators(period: str | None, fmt: str, out: Path | None) -> None:
    """Every indicator's value, target, status, trends, flags and commentary per period;
    with ``--period``, for it and for the periods inside it that have values."""
    if fmt not in {"csv", "json", "xlsx"}:
        _fail("indicators can be exported as csv, json or xlsx")
    if fmt == "xlsx" and out is None:
        _fail("--format xlsx needs --out FILE")
    when = _period(period, "--period") if period is not None else None
    runtime = _runtime()
    with runtime.sessions() as session:
        table = indicators_table(session, when)
    runtime.close()
    if fmt == "xlsx":
        assert out is not None
        out.write_bytes(export.to_xlsx(table))
    else:
        text = export.to_json(table) + "\n" if fmt == "json" else export.to_csv(table)
        if out is None:
            sys.stdout.write(text)
            return
        out.write_text(text, encoding="utf-8")
    console.print(f"{len(table.rows)} row(s) written to {out}")
