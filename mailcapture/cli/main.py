"""The ``mailcapture`` command.

Every failure a user can cause (a bad setting, a broken register, an unreachable
database) ends as one line on stderr naming the reason, and a non-zero exit status;
tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailcapture.cli import commands, publishing, records
from mailcapture.clock import FixedClock, OffsetClock, set_clock
from mailcapture.db.migrate import SchemaError
from mailcapture.register.source import RegisterInvalid
from mailcapture.settings import SettingsError
from mailcapture.transport.files import UnreadableInput
from mailcapture.transport.outbound import ConfigError

app = typer.Typer(
    name="mailcapture",
    help="Email-driven performance data capture for councils.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class CliError(Exception):
    """An error to report in one line and exit with ``code``."""

    def __init__(self, reason: str, code: int = 1) -> None:
        super().__init__(reason)
        self.code = code


def _now_option(value: str | None) -> None:
    if value is None:
        return
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date-time (e.g. 2026-05-01T09:00)"
        ) from None
    set_clock(FixedClock(when))


NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Pretend it is this (local) ISO date-time; moves the one clock.",
        callback=_now_option,
        expose_value=True,
    ),
]


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this release's schema."""
    commands.init()


@app.command()
def load(
    folder: Annotated[
        Path | None, typer.Argument(help="Register folder (default $MAILCAPTURE_CONFIG)")
    ] = None,
    now: NowOption = None,
) -> None:
    """Validate the register and timetable in FOLDER and load them in one transaction."""
    commands.load(folder)


@app.command()
def status(now: NowOption = None) -> None:
    """What is loaded, and what is due next."""
    commands.status()


@app.command()
def tick(
    now: NowOption = None,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Deliver what is due")] = True,
) -> None:
    """Queue the requests, reminders, escalations, summaries and reports due now, then deliver."""
    commands.tick(send)


@app.command()
def send(now: NowOption = None) -> None:
    """Deliver the outbox rows that are due (SMTP, or .eml files in the mail folder)."""
    commands.send()


@app.command()
def outbox(
    state: Annotated[
        str | None, typer.Option(help="Only rows in this state: queued, sent, failed, ...")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first")] = 50,
) -> None:
    """List outgoing mail: queued, sent and failed."""
    commands.outbox(state, limit)


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Argument(help="Where to leave the demo's database and mail")
    ] = Path("mailcapture-demo"),
) -> None:
    """Run a month of returns for the sample council through the real parts, on SQLite."""
    commands.demo(folder)


@app.command()
def serve(
    start: Annotated[
        str | None,
        typer.Option("--now", help="Start the clock at this (local) ISO date-time; it then runs"),
    ] = None,
) -> None:
    """Run the service: listener and/or IMAP poller, timetable and outbox sender."""
    if start is not None:
        try:
            set_clock(OffsetClock(datetime.fromisoformat(start)))
        except ValueError:
            raise typer.BadParameter(f"{start!r} is not an ISO date-time") from None
    commands.serve()


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Message files, folders, mbox files or Maildirs (default: stdin)"),
    ] = None,
    now: NowOption = None,
) -> None:
    """Capture raw RFC 5322 messages: one line per message with its outcome."""
    commands.ingest(paths or [])


@app.command()
def reprocess(
    message_id: Annotated[int | None, typer.Argument(help="Inbound message number")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed message")] = False,
    now: NowOption = None,
) -> None:
    """Run a stored message through the pipeline again (after a fix)."""
    commands.reprocess(message_id, failed)


@app.command()
def messages(
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 100,
) -> None:
    """List inbound messages: classification, the rule that decided it, and the outcome."""
    commands.messages(fmt.value, limit)


export_app = typer.Typer(help="Export stored data.", no_args_is_help=True)
app.add_typer(export_app, name="export")
records.register(app, export_app)  # target set/list, lock, unlock, export indicators
app.command()(publishing.publish)  # site and PDF of the quarterly/annual report


@export_app.command("values")
def export_values(
    period: Annotated[str | None, typer.Option(help="Only this period, e.g. 2026-04")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="csv, json or xlsx")] = Format.csv,
    out: Annotated[Path | None, typer.Option(help="Write to this file (needed for xlsx)")] = None,
) -> None:
    """Every value and status received, with who sent it, when, and from which message."""
    commands.export_values(period, fmt.value, out)


def run() -> None:
    """Console-script entry point: turn expected failures into one line and an exit code."""
    try:
        app(standalone_mode=False)
    except RegisterInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"mailcapture: register not loaded: {len(exc.problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    except (SettingsError, SchemaError, CliError, ConfigError, UnreadableInput) as exc:
        _fail(str(exc), getattr(exc, "code", 1))
    except OperationalError as exc:
        _fail(f"database unavailable: {_first_line(exc.orig or exc)}")
    except SQLAlchemyError as exc:
        _fail(f"database error: {_first_line(exc)}")
    except typer.Abort:
        _fail("aborted")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors from the (vendored) click inside typer: bad option, missing argument.
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            _fail(exc.format_message(), exc.exit_code)
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(reason: str, code: int = 1) -> None:
    print(f"mailcapture: error: {reason}", file=sys.stderr)
    sys.exit(code)
