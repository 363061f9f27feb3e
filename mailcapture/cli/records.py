"""Commands for the rules and records: targets, period locks and the indicators export.

``mailcapture target set|list``, ``mailcapture lock|unlock`` and ``mailcapture export
indicators``. The work is done in :mod:`mailcapture.reports.targets`,
:mod:`mailcapture.reports.period_locks` and :mod:`mailcapture.reports.indicator_export`;
this module parses arguments and prints. A refusal or bad argument prints one line,
``mailcapture: error: reason``, and exits 1 with nothing written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ, FixedClock, set_clock
from mailcapture.domain.figures import plain_number
from mailcapture.domain.periods import Period, PeriodError, parse_period
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
target_app = typer.Typer(help="Targets and approved target changes.", no_args_is_help=True)


def _fail(reason: str) -> NoReturn:
    """One line and exit 1, through the command's own error handling in :mod:`.main`."""
    from mailcapture.cli.main import CliError  # imported late: main imports this module

    raise CliError(reason)


def _set_now(value: str | None) -> None:
    if value is None:
        return
    try:
        set_clock(FixedClock(datetime.fromisoformat(value)))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time") from None


NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this (local) ISO date-time.", callback=_set_now),
]


def _period(text: str, option: str = "PERIOD") -> Period:
    try:
        return parse_period(text)
    except PeriodError as exc:
        _fail(f"{option}: {exc}")


def _runtime() -> Runtime:
    runtime = Runtime.from_environment()
    runtime.require_schema()
    return runtime


def _figure(value: object) -> str:
    return "" if value is None else plain_number(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- targets


@target_app.command("set")
def target_set(
    code: Annotated[str, typer.Argument(help="Indicator code, e.g. BV8a")],
    period: Annotated[str, typer.Argument(help="A year (year-end target), quarter or month")],
    value: Annotated[str, typer.Argument(help="The new target")],
    reason: Annotated[str, typer.Option("--reason", help="Why the target changes")],
    approved_by: Annotated[
        str, typer.Option("--approved-by", help="Email of the person who approved it")
    ],
    tolerance: Annotated[
        str | None, typer.Option(help="Amber band: a number, or a percentage such as 10%")
    ] = None,
    now: NowOption = None,
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


@target_app.command("list")
def target_list(
    period: Annotated[str | None, typer.Option(help="Only targets for this period")] = None,
) -> None:
    """Targets, and the target changes recorded with their authority."""
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


def lock(
    period: Annotated[str, typer.Argument(help="The period to lock, e.g. 2026/27 Q1")],
    by: Annotated[str, typer.Option("--by", help="Email of the performance team member")],
    reason: Annotated[str | None, typer.Option(help="Why (needed with --force)")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Lock even if not every value is signed off")
    ] = False,
    now: NowOption = None,
) -> None:
    """Lock a period: no more values, statuses, sign-offs or commentary by email."""
    when = _period(period)
    _lock_command(
        lambda session, at: lock_period(session, when, by=by, now=at, reason=reason, force=force)
    )


def unlock(
    period: Annotated[str, typer.Argument(help="The period to unlock")],
    by: Annotated[str, typer.Option("--by", help="Email of the performance team member")],
    reason: Annotated[str, typer.Option(help="Why it is reopened")],
    now: NowOption = None,
) -> None:
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


def export_indicators(
    period: Annotated[str | None, typer.Option(help="Only this period, e.g. 2026/27 Q1")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or xlsx")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write to this file (needed for xlsx)")] = None,
) -> None:
    """Every indicator's value, target, status, trends, flags and commentary per period."""
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


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Add these commands to the ``mailcapture`` command (one call in :mod:`.main`)."""
    app.add_typer(target_app, name="target")
    app.command("lock")(lock)
    app.command("unlock")(unlock)
    export_app.command("indicators")(export_indicators)
