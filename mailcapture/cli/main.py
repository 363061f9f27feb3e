"""The ``mailcapture`` command: its arguments, its help, and its one-line errors.

This module is imported for every invocation, ``--help`` included, so it imports only typer
and the standard library. Each command imports what it needs when it runs (SQLAlchemy for
anything that reads the database, matplotlib and WeasyPrint only for ``publish``, aiosmtpd
only for ``serve``): a person typing ``mailcapture status`` does not wait for chart
libraries. ``tests/test_startup.py`` keeps it that way.

Every failure a user can cause (a bad setting, a broken register, an unreachable or missing
database, a file that is not an email) ends as one line on stderr naming the reason, and a
non-zero exit status; tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mailcapture.cli.spreadsheets import export_register, import_app
from mailcapture.domain.enums import InboundState
from mailcapture.errors import UserError

app = typer.Typer(
    name="mailcapture",
    help="Email-driven performance data capture for councils.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"mailcapture {version('mailcapture')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Email-driven performance data capture for councils."""


def _set_now(value: str | None) -> None:
    """``--now``: fix the one clock at this local time for the whole command."""
    if value is None:
        return
    from mailcapture.clock import FixedClock, set_clock

    set_clock(FixedClock(_datetime(value)))


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date-time (e.g. 2026-05-01T09:00)"
        ) from None


NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="DATETIME",
        help="Pretend it is this local date-time (e.g. 2026-05-01T09:00); moves the one clock.",
        callback=_set_now,
    ),
]
PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period", metavar="PERIOD", help='Only this period, e.g. 2026-04 or "2026/27 Q1".'
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", metavar="FILE", help="Write to this file (needed for xlsx)."),
]


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


ExportFormatOption = Annotated[
    ExportFormat,
    typer.Option("--format", metavar="[csv|json|xlsx]", help="The file format."),
]


# --------------------------------------------------------------------------- the register


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this release's schema."""
    from mailcapture.cli import commands

    commands.init()


@app.command()
def load(
    folder: Annotated[
        Path | None,
        typer.Argument(metavar="[FOLDER]", help="Register folder (default $MAILCAPTURE_CONFIG)."),
    ] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Load the sample register of a fictional council, shipped with mailcapture.",
        ),
    ] = False,
    now: NowOption = None,
) -> None:
    """Validate the register and timetable in FOLDER and load them in one transaction."""
    from mailcapture.cli import commands

    if sample and folder is not None:
        raise UserError("give a register folder or --sample, not both")
    commands.load(folder, sample=sample)


@app.command()
def status(now: NowOption = None) -> None:
    """What is loaded, the queues, and when the next requests go out."""
    from mailcapture.cli import commands

    commands.status()


# --------------------------------------------------------------------------- mail out


@app.command()
def tick(
    now: NowOption = None,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Deliver what is due.")] = True,
) -> None:
    """Queue the requests, reminders, escalations, summaries and reports due now, then deliver."""
    from mailcapture.cli import commands

    commands.tick(send)


@app.command()
def send(now: NowOption = None) -> None:
    """Deliver the outbox rows that are due (SMTP, or .eml files in the mail folder)."""
    from mailcapture.cli import commands

    commands.send()


@app.command()
def outbox(
    state: Annotated[
        str | None,
        typer.Option(metavar="STATE", help="Only rows in this state: queued, sent, failed, ..."),
    ] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="At most N rows, newest first.")] = 50,
) -> None:
    """List outgoing mail: queued, sent and failed."""
    from mailcapture.cli import commands

    commands.outbox(state, limit)


# --------------------------------------------------------------------------- mail in


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Message files, folders, mbox files or Maildirs (default: standard input).",
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Capture raw RFC 5322 messages: one line per message with its outcome."""
    from mailcapture.cli import commands

    commands.ingest(paths or [])


@app.command()
def reprocess(
    message_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Inbound message number.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed message.")] = False,
    deferred: Annotated[
        bool,
        typer.Option("--deferred", help="Every message set aside for taking too long."),
    ] = False,
    budget: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS", help="Seconds each message may take (default 10; 0: no limit)."
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Run a stored message through the pipeline again (after a fix, or when it was deferred)."""
    from mailcapture.cli import commands

    commands.reprocess(message_id, failed, deferred, budget)


@app.command()
def messages(
    fmt: Annotated[
        ListFormat, typer.Option("--format", metavar="[table|csv|json]", help="The output format.")
    ] = ListFormat.table,
    limit: Annotated[int, typer.Option(metavar="N", help="At most N, newest first.")] = 100,
    state: Annotated[
        InboundState | None,
        typer.Option(
            metavar="STATE",
            help="Only messages in this state, e.g. quarantined (held replies) or failed.",
        ),
    ] = None,
) -> None:
    """List inbound messages: classification, the rule that decided it, and the outcome."""
    from mailcapture.cli import commands

    commands.messages(fmt.value, limit, state)


@app.command()
def release(
    message_id: Annotated[
        int,
        typer.Argument(metavar="ID", help="The held message (messages --state quarantined)."),
    ],
    by: Annotated[str, typer.Option("--by", metavar="EMAIL", help="The performance team member.")],
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="How it was confirmed, for the audit trail.")
    ],
    now: NowOption = None,
) -> None:
    """Apply a reply held for its authentication, once the sender has confirmed they sent it."""
    from mailcapture.cli import commands

    commands.release(message_id, by, reason)


@app.command()
def returns(
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            metavar="PERIOD",
            help='Only this period, e.g. 2026-04 or "2026/27 Q1" (with its months). '
            "Default: the latest period with requests (at a quarter's end, the month and "
            "the quarter).",
        ),
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", metavar="[table|csv|json]", help="The output format.")
    ] = ListFormat.table,
    now: NowOption = None,
) -> None:
    """Who has returned what: per person and item, received / late / promised for DATE /
    missing / bounced, with the reminders and escalations sent."""
    from mailcapture.cli import returns as returns_command

    returns_command.returns(period, fmt.value)


# --------------------------------------------------------------------------- records


export_app = typer.Typer(help="Export stored data.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("values")
def export_values(
    period: PeriodOption = None,
    fmt: ExportFormatOption = ExportFormat.csv,
    out: OutOption = None,
) -> None:
    """Every value and status received, with who sent it, when, and from which message."""
    from mailcapture.cli import commands

    commands.export_values(period, fmt.value, out)


@export_app.command("indicators")
def export_indicators(
    period: PeriodOption = None,
    fmt: ExportFormatOption = ExportFormat.csv,
    out: OutOption = None,
) -> None:
    """Every indicator's value, target, status, trends, flags and commentary per period."""
    from mailcapture.cli import records

    records.export_indicators(period, fmt.value, out)


export_app.command("register")(export_register)
app.add_typer(import_app, name="import")


class ReturnFormat(StrEnum):
    lginform = "lginform"
    sdl = "sdl"


@export_app.command("returns")
def export_returns(
    period: Annotated[
        str, typer.Option("--period", metavar="YEAR", help='The financial year, e.g. "2026/27".')
    ],
    fmt: Annotated[
        ReturnFormat,
        typer.Option(
            "--format",
            metavar="[lginform|sdl]",
            help="lginform: every value of the indicators with an LG Inform id, long format; "
            "sdl: the year's figure for each Single Data List reference.",
        ),
    ],
    out: OutOption = None,
) -> None:
    """A government or benchmarking return for a year, as CSV (see the README)."""
    from mailcapture.cli import government_returns

    government_returns.export_returns(period, fmt.value, out)


target_app = typer.Typer(help="Targets and approved target changes.", no_args_is_help=True)
app.add_typer(target_app, name="target")


@target_app.command("set")
def target_set(
    code: Annotated[str, typer.Argument(metavar="CODE", help="Indicator code, e.g. BV8a.")],
    period: Annotated[
        str,
        typer.Argument(metavar="PERIOD", help="A year (year-end target), quarter or month."),
    ],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="The new target.")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why the target changes.")
    ],
    approved_by: Annotated[
        str,
        typer.Option("--approved-by", metavar="EMAIL", help="Who approved the change."),
    ],
    tolerance: Annotated[
        str | None,
        typer.Option(metavar="BAND", help="Amber band: a number, or a percentage such as 10%."),
    ] = None,
    now: NowOption = None,
) -> None:
    """Change a target, if the approver has the authority; the change is recorded."""
    from mailcapture.cli import records

    records.target_set(code, period, value, reason, approved_by, tolerance)


@target_app.command("list")
def target_list(period: PeriodOption = None) -> None:
    """Targets, and the target changes recorded with their authority."""
    from mailcapture.cli import records

    records.target_list(period)


@app.command()
def lock(
    period: Annotated[
        str, typer.Argument(metavar="PERIOD", help="The period to lock, e.g. 2026/27 Q1.")
    ],
    by: Annotated[str, typer.Option("--by", metavar="EMAIL", help="The performance team member.")],
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why (needed with --force).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Lock even if not every value is signed off.")
    ] = False,
    now: NowOption = None,
) -> None:
    """Lock a period: no more values, statuses, sign-offs or commentary by email."""
    from mailcapture.cli import records

    records.lock(period, by, reason, force)


@app.command()
def unlock(
    period: Annotated[str, typer.Argument(metavar="PERIOD", help="The period to unlock.")],
    by: Annotated[str, typer.Option("--by", metavar="EMAIL", help="The performance team member.")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why it is reopened.")],
    now: NowOption = None,
) -> None:
    """Reopen a locked period; the lock is kept, stamped with who, when and why."""
    from mailcapture.cli import records

    records.unlock(period, by, reason)


@app.command()
def publish(
    period: Annotated[
        str,
        typer.Option(metavar="PERIOD", help='A quarter or a year, e.g. "2026/27 Q1".'),
    ],
    out: Annotated[
        Path, typer.Option(metavar="FOLDER", help="Folder to write the site and PDF into.")
    ],
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="DATETIME",
            help="Pretend it is this local date-time (the data's 'as at').",
            callback=_set_now,
        ),
    ] = None,
) -> None:
    """Write the performance report for PERIOD as a static website and a PDF into FOLDER."""
    from mailcapture.cli import publishing

    publishing.publish(period, out)


# --------------------------------------------------------------------------- the service


@app.command()
def serve(
    start: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="DATETIME",
            help="Start the clock at this local date-time; it then runs.",
        ),
    ] = None,
) -> None:
    """Run the service: listener and/or IMAP poller, timetable and outbox sender."""
    from mailcapture.cli import commands

    if start is not None:
        from mailcapture.clock import OffsetClock, set_clock

        set_clock(OffsetClock(_datetime(start)))
    commands.serve()


@app.command()
def health() -> None:
    """Exit 0 when the database is reachable and current and the listener answers."""
    from mailcapture.cli import commands

    commands.health()


@app.command()
def demo(
    folder: Annotated[
        Path,
        typer.Argument(metavar="[FOLDER]", help="Where to leave the demo's database and mail."),
    ] = Path("mailcapture-demo"),
) -> None:
    """Run a month of returns for the sample council through the real parts, on SQLite."""
    from mailcapture.cli import commands

    commands.demo(folder)


# --------------------------------------------------------------------------- errors


def run() -> None:
    """Console-script entry point: turn expected failures into one line and an exit code."""
    try:
        app(standalone_mode=False)
    except UserError as exc:
        problems = getattr(exc, "problems", None)
        if problems:  # a broken register: every problem on its own line, then the verdict
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"mailcapture: register not loaded: {len(problems)} problem(s)", file=sys.stderr)
            sys.exit(exc.exit_code)
        _fail(str(exc), exc.exit_code)
    except typer.Abort:
        _fail("aborted")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        reason = _known_failure(exc)
        if reason is None:
            raise
        _fail(*reason)


def _known_failure(exc: Exception) -> tuple[str, int] | None:
    """A one-line reason for failures that are not bugs, or ``None`` for a bug."""
    # Usage errors from the (vendored) click inside typer: bad option, missing argument.
    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
        return exc.format_message(), exc.exit_code
    # SQLAlchemy is imported only by commands that use the database, so only look for its
    # errors when it has been: an exception cannot come from a module never imported.
    sa = sys.modules.get("sqlalchemy.exc")
    if sa is not None and isinstance(exc, sa.OperationalError):
        return f"database unavailable: {_first_line(exc.orig or exc)}", 1
    if sa is not None and isinstance(exc, sa.SQLAlchemyError):
        return f"database error: {_first_line(exc)}", 1
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(reason: str, code: int = 1) -> NoReturn:
    print(f"mailcapture: error: {reason}", file=sys.stderr)
    sys.exit(code)
