"""What each command does, kept apart from argument parsing so tests can call it directly.

Imported by :mod:`mailcapture.cli.main` only when a command runs. Modules that only some
commands need (the pipeline, the scheduler, the exports, alembic) are imported inside those
commands, so ``status`` does not load the mail pipeline and ``ingest`` does not load alembic.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailcapture.cli.output import console, progress_bar
from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.db.schema import current_revision
from mailcapture.domain.enums import InboundState, OutboxState
from mailcapture.runtime import Runtime
from mailcapture.settings import SettingsError

if TYPE_CHECKING:
    from mailcapture.transport.outbound import Sender

__all__ = ["console"]


def init() -> None:
    from mailcapture.db import migrate

    runtime = Runtime.from_environment()
    before = current_revision(runtime.engine)
    migrate.upgrade(runtime.settings.database_url)
    after = current_revision(runtime.engine)
    runtime.close()
    if before == after:
        console.print(f"database is up to date (schema {after})")
    else:
        console.print(f"database schema {before or 'empty'} -> {after}")


def load(folder: Path | None, sample: bool = False) -> None:
    from mailcapture.register.loader import load_folder
    from mailcapture.resources import sample_register

    runtime = Runtime.from_environment()
    runtime.require_schema()
    folder = sample_register() if sample else folder or runtime.settings.config_dir
    result = load_folder(folder, runtime.sessions, runtime.clock.now())
    runtime.close()
    if result.changes.empty:
        console.print(f"register {folder}: no changes")
    else:
        console.print(f"register {folder} loaded: {result.changes.summary()}", soft_wrap=True)


def status() -> None:
    from mailcapture.reports.period_locks import locks_in_force
    from mailcapture.schedule.timetable import load_timetable

    runtime = Runtime.from_environment()
    runtime.require_schema()
    now = runtime.clock.now()
    with runtime.sessions() as session:
        last_load = session.scalar(select(m.RegisterLoad).order_by(m.RegisterLoad.id.desc()))
        if last_load is None:
            console.print(
                "nothing loaded yet: run `mailcapture load FOLDER` "
                "(or `mailcapture load --sample` to try the sample council)"
            )
            return
        console.print(f"register loaded {_local(last_load.loaded_at)} from {last_load.source}")
        console.print(_register_table(session))
        timetable = load_timetable(session)
        upcoming = timetable.next_requests(now)
        console.print(_service_table(session))
        locked = locks_in_force(session)
        console.print(f"periods locked: {', '.join(locked) if locked else 'none'}", markup=False)
    runtime.close()
    table = Table(title=f"Next requests after {_local(now)}")
    for column in ("frequency", "period", "requests go out", "due"):
        table.add_column(column)
    for dates in upcoming:
        table.add_row(
            dates.frequency.value,
            dates.period.label,
            _local(dates.request_at),
            _local(dates.due_at),
        )
    console.print(table)


def _local(when: datetime) -> str:
    """Council local time, as people there read it."""
    return when.astimezone(LOCAL_TZ).strftime("%a %d %b %Y %H:%M %Z")


def _counts(session: Session, **queries: Select[Any]) -> dict[str, int]:
    """Several counts in one statement: one round trip and one compilation, not one each."""
    labelled = [query.scalar_subquery().label(name) for name, query in queries.items()]
    row = session.execute(select(*labelled)).one()
    return {name: int(value or 0) for name, value in row._mapping.items()}


def _live(model: Any) -> Select[Any]:
    """How many rows of ``model`` are in the register now (not retired)."""
    return select(func.count()).select_from(model).where(model.retired_at.is_(None))


def _service_table(session: Session) -> Table:
    """Queue depths and problems: what an operator checks first."""
    outbox = dict(
        session.execute(
            select(m.OutboxMessage.state, func.count()).group_by(m.OutboxMessage.state)
        ).all()
    )
    inbound = dict(
        session.execute(
            select(m.InboundMessage.state, func.count()).group_by(m.InboundMessage.state)
        ).all()
    )
    last_tick = session.scalar(select(m.SchedulerTick).order_by(m.SchedulerTick.id.desc()))
    table = Table(title="Service")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row(
        "outbox queued",
        str(outbox.get(OutboxState.QUEUED, 0) + outbox.get(OutboxState.SENDING, 0)),
        "",
    )
    table.add_row("outbox sent", str(outbox.get(OutboxState.SENT, 0)), "")
    table.add_row(
        "failed sends",
        str(outbox.get(OutboxState.FAILED, 0)),
        "see `mailcapture outbox --state failed`",
    )
    table.add_row(
        "messages waiting", str(inbound.get(InboundState.RECEIVED, 0)), "stored, not yet processed"
    )
    table.add_row(
        "messages processed",
        str(inbound.get(InboundState.PROCESSED, 0) + inbound.get(InboundState.DUPLICATE, 0)),
        "",
    )
    table.add_row(
        "failed messages",
        str(inbound.get(InboundState.FAILED, 0)),
        "`mailcapture reprocess --failed` after a fix",
    )
    table.add_row(
        "quarantined",
        str(inbound.get(InboundState.QUARANTINED, 0)),
        "held for the performance team (`mailcapture messages`)",
    )
    table.add_row(
        "deferred",
        str(inbound.get(InboundState.DEFERRED, 0)),
        "over the time budget per message: `mailcapture reprocess --deferred`",
    )
    table.add_row(
        "last tick",
        "",
        f"{_local(last_tick.tick_time)}: {last_tick.queued}" if last_tick else "never",
    )
    return table


def _register_table(session: Session) -> Table:
    """What is in the register: an operator's check that the load did what they meant."""
    table = Table(title="Register")
    table.add_column("what")
    table.add_column("active", justify="right")
    table.add_column("detail")
    live_indicator = m.Indicator.retired_at.is_(None)
    kinds = Counter(
        {
            (kind.value, frequency.value): number
            for kind, frequency, number in session.execute(
                select(m.Indicator.type, m.Indicator.frequency, func.count())
                .where(live_indicator)
                .group_by(m.Indicator.type, m.Indicator.frequency)
            )
        }
    )
    by_type: Counter[str] = Counter()
    by_freq: Counter[str] = Counter()
    for (kind, frequency), number in kinds.items():
        by_type[kind] += number
        by_freq[frequency] += number
    retired = {
        f"retired_{model.__tablename__}": select(func.count())
        .select_from(model)
        .where(model.retired_at.is_not(None))
        for model in (m.Indicator, m.Component, m.Project, m.Person)
    }
    n = _counts(
        session,
        departments=_live(m.Department),
        service_areas=_live(m.ServiceArea),
        people=_live(m.Person),
        delegations=_live(m.Delegation),
        components=_live(m.Component),
        targets=select(func.count()).select_from(m.Target),
        projects=_live(m.Project),
        milestones=_live(m.Milestone),
        values=select(func.count())
        .select_from(m.ComponentValue)
        .where(m.ComponentValue.is_current),
        **retired,
    )
    rows = [
        ("departments", n["departments"], ""),
        ("service areas", n["service_areas"], ""),
        ("people", n["people"], f"{n['delegations']} delegation(s)"),
        (
            "indicators",
            sum(kinds.values()),
            ", ".join(f"{k} {t}" for t, k in sorted(by_type.items()))
            + "; "
            + ", ".join(f"{k} {f}" for f, k in sorted(by_freq.items())),
        ),
        ("components", n["components"], ""),
        ("targets", n["targets"], ""),
        ("projects", n["projects"], f"{n['milestones']} milestones"),
        ("values held", n["values"], ""),
        (
            "retired",
            sum(n[name] for name in retired),
            "indicators, components, projects and people no longer in the register",
        ),
    ]
    for what, count, detail in rows:
        table.add_row(what, str(count), detail)
    return table


def tick(send_after: bool) -> None:
    from mailcapture.schedule.tick import tick as run_tick

    runtime = Runtime.from_environment()
    runtime.require_schema()
    sender = runtime.sender() if send_after else None
    with progress_bar() as progress:
        report = run_tick(runtime.sessions, runtime.clock.now(), progress=progress)
    console.print(f"tick at {_local(runtime.clock.now())}: {report}")
    if sender is not None:
        _deliver(runtime, sender)
    runtime.close()


def send() -> None:
    runtime = Runtime.from_environment()
    runtime.require_schema()
    _deliver(runtime, runtime.sender())
    runtime.close()


def _deliver(runtime: Runtime, sender: Sender) -> None:
    from mailcapture.outbox.service import send_due

    try:
        with progress_bar() as progress:
            stats = send_due(runtime.sessions, sender, runtime.clock, progress=progress)
    finally:
        sender.close()
    where = (runtime.settings.smtp_url and "via SMTP") or f"to {runtime.settings.mail_dir}"
    console.print(f"outbox {where}: {stats}")


def outbox(state: str | None, limit: int) -> None:
    runtime = Runtime.from_environment()
    runtime.require_schema()
    query = select(m.OutboxMessage).order_by(m.OutboxMessage.id.desc()).limit(limit)
    if state is not None:
        try:
            query = query.where(m.OutboxMessage.state == OutboxState(state))
        except ValueError:
            raise SettingsError(
                f"unknown state {state!r} (one of: {', '.join(s.value for s in OutboxState)})"
            ) from None
    with runtime.sessions() as session:
        rows = session.scalars(query).all()
        counts = dict(
            session.execute(
                select(m.OutboxMessage.state, func.count()).group_by(m.OutboxMessage.state)
            ).all()
        )
    runtime.close()
    summary = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in OutboxState)
    table = Table(title=f"Outbox: {summary}")
    for column in ("id", "kind", "to", "state", "tries", "queued", "subject / last error"):
        table.add_column(column)
    for row in rows:
        detail = row.last_error if row.state is OutboxState.FAILED else row.subject
        table.add_row(
            str(row.id),
            row.kind,
            row.recipient,
            row.state.value,
            str(row.attempts),
            _local(row.created_at),
            detail or "",
        )
    console.print(table)


def ingest(paths: list[Path]) -> None:
    """Check every input is an email before storing any, then capture them one by one."""
    from mailcapture.mailflow.pipeline import Pipeline
    from mailcapture.mailflow.store import Envelope
    from mailcapture.transport.files import check_inputs, iter_inputs

    runtime = Runtime.from_environment()
    runtime.require_schema()
    inputs = check_inputs(paths)  # reads standard input, if that is the source, once
    if inputs.count == 0:
        raise SettingsError("no messages found in the paths given")
    pipeline = Pipeline(runtime.sessions, runtime.clock)
    with progress_bar() as progress:
        progress.start("capturing", inputs.count)
        for message in inputs.messages or iter_inputs(paths):
            result = pipeline.ingest(message.raw, Envelope(source="cli", source_ref=message.ref))
            console.print(f"{message.ref}: {result.line()}", soft_wrap=True, markup=False)
            progress.advance()
    runtime.close()


def reprocess(
    message_id: int | None, failed: bool, deferred: bool = False, budget: float | None = None
) -> None:
    """One message, every failed one, or every deferred one, through the pipeline again.

    ``--failed`` and ``--deferred`` stay apart: a failed message hit a fault of ours (reprocess
    it after the fix), a deferred one ran over its time budget (reprocess it when the machine
    is quieter, or with a larger ``budget``; 0 lifts the limit for this run).
    """
    from mailcapture.mailflow.pipeline import Pipeline, Settings

    if sum((message_id is not None, failed, deferred)) != 1:
        raise SettingsError("give a message number, --failed or --deferred (one of them)")
    if budget is not None and budget < 0:
        raise SettingsError("--budget is a number of seconds, 0 for no limit")
    runtime = Runtime.from_environment()
    runtime.require_schema()
    settings = Settings() if budget is None else Settings(budget_seconds=budget or None)
    pipeline = Pipeline(runtime.sessions, runtime.clock, settings)
    wanted = InboundState.FAILED if failed else InboundState.DEFERRED
    with runtime.sessions() as session:
        if failed or deferred:
            ids = list(
                session.scalars(
                    select(m.InboundMessage.id)
                    .where(m.InboundMessage.state == wanted)
                    .order_by(m.InboundMessage.id)
                )
            )
        else:
            row = session.get(m.InboundMessage, message_id)
            if row is None:
                raise SettingsError(f"no inbound message #{message_id}")
            if row.state is InboundState.DUPLICATE:
                raise SettingsError(
                    f"#{message_id} is a duplicate of #{row.duplicate_of_id}; reprocess that one"
                )
            ids = [row.id]
    with progress_bar() as progress:
        progress.start("reprocessing", len(ids))
        for inbound_id in ids:
            line = pipeline.process(inbound_id, force=True).line()
            console.print(line, soft_wrap=True, markup=False)
            progress.advance()
    if not ids:
        console.print(f"no {wanted.value} messages")
    runtime.close()


MESSAGE_COLUMNS = (
    "id",
    "message_id",
    "sender",
    "received_at",
    "classification",
    "rule",
    "state",
    "outcome",
    "detail",
)


def release(message_id: int, by: str, reason: str) -> None:
    """Apply a held reply on the performance team's word (``Pipeline.release``)."""
    from mailcapture.mailflow.pipeline import Pipeline

    runtime = Runtime.from_environment()
    runtime.require_schema()
    try:
        result = Pipeline(runtime.sessions, runtime.clock).release(message_id, by, reason)
    finally:
        runtime.close()
    console.print(result.line(), soft_wrap=True, markup=False)


def messages(fmt: str, limit: int, state: InboundState | None = None) -> None:
    from mailcapture.reports import export

    runtime = Runtime.from_environment()
    runtime.require_schema()
    query = select(m.InboundMessage).order_by(m.InboundMessage.id.desc()).limit(limit)
    if state is not None:
        query = query.where(m.InboundMessage.state == state)
    with runtime.sessions() as session:
        rows = [
            (
                r.id,
                r.message_id,
                r.sender,
                r.received_at,
                r.classification.value if r.classification else None,
                r.classification_rule,
                r.state.value,
                r.outcome,
                r.outcome_detail,
            )
            for r in session.scalars(query)
        ]
    runtime.close()
    table = export.Table(MESSAGE_COLUMNS, rows)
    if fmt == "csv":
        sys.stdout.write(export.to_csv(table))
    elif fmt == "json":
        sys.stdout.write(export.to_json(table) + "\n")
    elif fmt == "table":
        which = f"{state.value} messages" if state else "Inbound messages"
        view = Table(title=f"{which} (newest {limit})")
        for column in ("id", "from", "received", "class", "rule", "outcome", "detail"):
            view.add_column(column)
        for r in rows:
            view.add_row(
                str(r[0]),
                r[2] or "",
                _local(r[3]),
                r[4] or "",
                r[5] or "",
                f"{r[6]}: {r[7]}",
                (r[8] or "")[:80],
            )
        console.print(view)
    else:
        raise SettingsError("messages can be listed as table, csv or json")


def export_values(period: str | None, fmt: str, out: Path | None) -> None:
    """Every value and status received; with ``--period``, for it and the periods inside
    it (a quarter's months: the figures are stored against the month they were asked for)."""
    from mailcapture.cli.periods import periods_covered
    from mailcapture.reports import export

    covered = periods_covered(period)
    codes = None if covered is None else [p.code for p in covered]
    runtime = Runtime.from_environment()
    runtime.require_schema()
    with runtime.sessions() as session:
        table = export.values_table(session, codes)
    runtime.close()
    if fmt == "xlsx":
        if out is None:
            raise SettingsError("--format xlsx needs --out FILE")
        out.write_bytes(export.to_xlsx(table))
        console.print(f"{len(table.rows)} row(s) written to {out}")
        return
    text = export.to_json(table) + "\n" if fmt == "json" else export.to_csv(table)
    if fmt not in {"csv", "json"}:
        raise SettingsError("values can be exported as csv, json or xlsx")
    if out is not None:
        out.write_text(text, encoding="utf-8")
        console.print(f"{len(table.rows)} row(s) written to {out}")
    else:
        sys.stdout.write(text)


def serve() -> None:
    from mailcapture import logs
    from mailcapture.service.config import ServiceConfig
    from mailcapture.service.runner import Service

    config = ServiceConfig.from_environment()
    runtime = Runtime.from_environment()
    runtime.require_schema()
    logs.configure()
    Service(runtime, config).run_until_signalled()


def demo(folder: Path) -> None:
    from mailcapture.demo.run import run_demo

    run_demo(folder.resolve(), console)


def health() -> None:
    """One line per check; a failed check is the error line and a non-zero exit."""
    from mailcapture.service.health import check_health

    checks = check_health()
    for check in checks:
        if check.ok:
            console.print(f"{check.name}: ok ({check.detail})", markup=False, soft_wrap=True)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise SettingsError("; ".join(f"{c.name}: {c.detail}" for c in failed))
