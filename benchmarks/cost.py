"""Benchmark (issue 12): the CPU one hostile message costs, beside a normal reply's.

Run from the checkout::

    .venv/bin/python -m benchmarks.cost                       # every case, pure and ingest
    .venv/bin/python -m benchmarks.cost --cases dashes-8k,references-70k --modes pure
    .venv/bin/python -m benchmarks.cost --code /tmp/before --label before --limit 150

Each case is one message that once stalled the service (issue 12: 8,000 / 20,000 / 100,000
``-- `` lines, 6 MB of long digit lines, 1 MB of short lines, a 100,000-cell HTML table,
70,000 References, a 10 MB line), or that pushes a limit (nesting just under and over
``Limits.max_depth``, parts just under and over ``Limits.max_parts``), or that aims at the
attribution regexes (lines that start like "Am ... schrieb" and never end like one). Every
case is a reply *from the addressee, to their request's token*, with real answers on top, so
that everything after classification runs too: matching, authentication, reading the form
against what we sent, applying, confirming.

Two measures per case, each in a child process of its own (so a case that runs away is
stopped at ``--limit`` seconds and reported as such, and one case's caches never help
another):

* **pure**: ``decode_message`` + ``classify`` + ``read_reply`` + ``split_reply`` - the floor,
  no database;
* **ingest**: ``Pipeline.ingest`` on a copy of a SQLite database with the sample council
  loaded and the April 2026 requests sent (built once per run, in a child too).

Every child first measures the **baseline** the same way: a normal Gmail-style reply to the
same request (answers on top, the request ``> ``-quoted below, text and HTML), the median
of five runs after a warm-up that also loads inscriptis, charset-normalizer and
flufl.bounce. Figures are CPU seconds (``time.process_time``) with the wall time beside,
and the ratio of the case's CPU to the baseline's.

``--code DIR`` runs the children against the ``mailcapture`` package in ``DIR`` instead of
the checkout (a copy of the code before a change, say), so before and after are measured by
the same script on the same machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
#: The sample register is loaded as of this time, and the April 2026 requests go out at the
#: tick; replies arrive on Tuesday 5 May, before the due date.
LOAD_AT = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
TICK_AT = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
INGEST_AT = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
#: The updater whose request every reply answers (sample register: BV8a's updater).
UPDATER = "kevin.walsh@ashdown.example"
BASELINE_RUNS = 5
MODES = ("pure", "ingest")


# ------------------------------------------------------------------------- the messages


@dataclass(frozen=True)
class Request:
    """What a reply needs from the request it answers."""

    raw: bytes
    sender: str
    reply_to: str
    subject: str
    message_id: str
    form_text: str
    codes: list[str]


def _head(request: Request, extra: str = "", content: str | None = None) -> str:
    """A reply's header block (ending in the blank line), with ``extra`` header lines."""
    content = content or "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit"
    return (
        f"From: {request.sender}\nTo: {request.reply_to}\nSubject: Re: {request.subject}\n"
        "Date: Tue, 05 May 2026 10:00:00 +0100\n"
        f"Message-ID: <cost-{time.perf_counter_ns()}@client.example>\n"
        f"In-Reply-To: {request.message_id}\n"
        + (extra if extra else f"References: {request.message_id}\n")
        + f"MIME-Version: 1.0\n{content}\n\n"
    )


def _answers(request: Request, base: int = 100) -> str:
    """Real answers, one top line per code: what a person would type (figures from ``base``:
    each baseline reply corrects the one before, and the case corrects them all)."""
    lines = [
        f"{code}: {'on track' if '.M' in code else base + i}"
        for i, code in enumerate(request.codes)
    ]
    return "\n".join(lines) + "\n"


def _plain(request: Request, body: str, extra: str = "") -> bytes:
    return (_head(request, extra) + body).encode("utf-8")


def dashes(count: int) -> Callable[[Request], bytes]:
    def build(request: Request) -> bytes:
        return _plain(request, "Figures below.\n\n" + _answers(request) + "\n" + "-- \n" * count)

    return build


def digit_lines(request: Request) -> bytes:
    line = ("1234567890" * 100)[:998] + "\n"
    return _plain(request, _answers(request) + "\n" + line * (6_000_000 // len(line)))


def short_lines(request: Request) -> bytes:
    return _plain(request, _answers(request) + "\n" + "ok\n" * (1_000_000 // 3))


def html_table(request: Request) -> bytes:
    rows = "".join("<tr>" + "<td>1</td>" * 100 + "</tr>\n" for _ in range(1000))
    answers = "".join(f"<p>{line}</p>" for line in _answers(request).splitlines())
    html = f"<html><body>{answers}<table>\n{rows}</table></body></html>\n"
    head = _head(request, content="Content-Type: text/html; charset=utf-8")
    return (head + html).encode("utf-8")


def references(request: Request) -> bytes:
    ids = "".join(f" <ref{n}.{n * 7919 % 10007}@spam.example>\n" for n in range(70_000))
    extra = f"References: {request.message_id}\n{ids}"
    return _plain(request, _answers(request), extra)


def long_line(request: Request) -> bytes:
    words = "The quick brown fox 123 jumps over the lazy dog at 09:00 a@b. "
    line = (words * (10_000_000 // len(words) + 1))[:10_000_000]
    return _plain(request, _answers(request) + "\n" + line + "\n")


def address_line(request: Request) -> bytes:
    """An address's start and then a megabyte with no space: the address pattern rescanned
    the rest of the line from each of 150 offsets."""
    return _plain(request, _answers(request) + "\nSent by a@" + "x" * 1_000_000 + ":\n")


def empty_lines(request: Request) -> bytes:
    """20 MB of empty lines: the stdlib parser reads a message a line at a time."""
    return _plain(request, _answers(request) + "\n" * 20_000_000)


def header_fields(request: Request) -> bytes:
    fields = "".join(f"X-Hop-{n}: {n}\n" for n in range(200_000))
    return _plain(request, _answers(request), f"References: {request.message_id}\n{fields}")


def attribution_lines(request: Request) -> bytes:
    """Lines that start like a German attribution and end with a colon 800 characters on."""
    line = "Am 1. Mai " + "schrieb " * 100 + "x:\n"
    return _plain(request, _answers(request) + "\n" + line * 2000)


def nested(depth: int) -> Callable[[Request], bytes]:
    """The answers at the bottom of ``depth`` levels of multipart/mixed."""

    def build(request: Request) -> bytes:
        opening = "".join(
            f'--b{n}\nContent-Type: multipart/mixed; boundary="b{n + 1}"\n\n' for n in range(depth)
        )
        closing = "".join(f"--b{n}--\n" for n in range(depth, -1, -1))
        body = (
            f"{opening}--b{depth}\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{_answers(request)}\n{closing}"
        )
        head = _head(request, content='Content-Type: multipart/mixed; boundary="b0"')
        return (head + body).encode("utf-8")

    return build


def many_parts(count: int) -> Callable[[Request], bytes]:
    """``count`` inline text/plain parts (iPhone Mail splits a reply round pictures like this)."""

    def build(request: Request) -> bytes:
        parts = [f"--p\nContent-Type: text/plain; charset=utf-8\n\n{_answers(request)}"]
        parts += [
            f"--p\nContent-Type: text/plain; charset=utf-8\n\nline {n} of a long reply\n"
            for n in range(count - 2)
        ]
        head = _head(request, content='Content-Type: multipart/mixed; boundary="p"')
        return (head + "".join(parts) + "--p--\n").encode("utf-8")

    return build


CASES: dict[str, tuple[str, Callable[[Request], bytes]]] = {
    "dashes-8k": ("8,000 '-- ' lines under the answers", dashes(8_000)),
    "dashes-20k": ("20,000 '-- ' lines", dashes(20_000)),
    "dashes-100k": ("100,000 '-- ' lines", dashes(100_000)),
    "digits-6mb": ("6 MB of 998-digit lines", digit_lines),
    "short-lines-1mb": ("1 MB of 'ok' lines", short_lines),
    "html-table-100k": ("HTML only: a table of 1,000 rows of 100 cells", html_table),
    "references-70k": ("70,000 ids in References", references),
    "line-10mb": ("one 10 MB line of words and digits", long_line),
    "attribution-lines": ("2,000 lines 'Am 1. Mai schrieb ... x:' of 810 chars", attribution_lines),
    "address-line-1mb": ("'Sent by a@' and 1 MB without a space", address_line),
    "empty-lines-20mb": ("20,000,000 empty lines", empty_lines),
    "header-fields-200k": ("200,000 header fields", header_fields),
    "nesting-19": ("answers under 19 levels of multipart/mixed", nested(19)),
    "nesting-30": ("answers under 30 levels (over the depth limit)", nested(30)),
    "parts-450": ("450 inline text/plain parts", many_parts(450)),
    "parts-600": ("600 inline text/plain parts (over the parts limit)", many_parts(600)),
}


# ------------------------------------------------------------------------- the child


def _use_code(code: str | None) -> None:
    """Import ``mailcapture`` from ``code`` (a folder holding the package) if given."""
    if code:
        sys.path.insert(0, str(Path(code).resolve()))
    import mailcapture

    where = Path(mailcapture.__file__).resolve().parent.parent
    if code and where != Path(code).resolve():
        raise SystemExit(f"mailcapture was imported from {where}, not {code}")


def _build(db_path: str) -> None:
    """Child: a SQLite database with the sample council loaded and April's requests sent."""
    from mailcapture.clock import as_utc
    from mailcapture.db.engine import make_engine, session_factory
    from mailcapture.db.migrate import upgrade
    from mailcapture.register.loader import load_folder
    from mailcapture.resources import sample_register
    from mailcapture.schedule.tick import tick

    url = f"sqlite:///{db_path}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    load_folder(sample_register(), sessions, LOAD_AT)
    tick(sessions, as_utc(TICK_AT))
    engine.dispose()


def _request(url: str) -> Request:
    from email import message_from_bytes

    from sqlalchemy import select

    from mailcapture.db import models as m
    from mailcapture.db.engine import make_engine, session_factory
    from mailcapture.mailflow.sent import sent_text

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            person, raw = session.execute(
                select(m.Person, m.OutboxMessage.raw)
                .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
                .where(m.OutboxMessage.kind == "request", m.Person.email == UPDATER)
            ).one()
            request = session.scalars(
                select(m.DataRequest).where(m.DataRequest.person_id == person.id)
            ).first()
            assert request is not None
            codes = [item.item_code for item in request.items]
            sender = f"{person.name} <{person.email}>"
    finally:
        engine.dispose()
    parsed = message_from_bytes(raw)
    return Request(
        raw=raw,
        sender=sender,
        reply_to=str(parsed["Reply-To"]),
        subject=" ".join(str(parsed["Subject"]).split()),
        message_id=str(parsed["Message-ID"]),
        form_text=sent_text(raw),
        codes=codes,
    )


def _baseline_reply(request: Request, base: int = 10) -> bytes:
    from mailcapture.demo import clients

    top = "Hi,\n\n" + _answers(request, base)
    return clients.gmail_top_posted(request.raw, request.sender, top)


def _warm_up(request: Request, pure: Callable[[bytes], str]) -> None:
    """Load what the first HTML, odd-charset or bounce-like message would load."""
    pure(_baseline_reply(request))
    html = _head(request, content="Content-Type: text/html") + "<p>warm</p>\n"
    pure(html.encode())
    latin = _head(request, content="Content-Type: text/plain; charset=unknown-8bit")
    pure(latin.encode() + "Caf\xe9 cr\xe8me, d\xe9j\xe0 vu\n".encode("cp1252"))
    bounce = _head(request).replace("Subject: Re:", "Subject: Undeliverable:")
    pure(bounce.replace("From: ", "From: MAILER-DAEMON <mailer-daemon@x.example>\nX-Old-From: ")
         .encode() + b"user unknown\n")  # fmt: skip


def _timed(call: Callable[[], str]) -> tuple[float, float, str]:
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = call()
    return time.process_time() - cpu, time.perf_counter() - wall, outcome


def _run(case: str, mode: str, template: str) -> dict[str, Any]:
    """Child: baseline and one case in one mode; returns the figures."""
    from mailcapture.clock import FixedClock
    from mailcapture.db.engine import make_engine, session_factory
    from mailcapture.mailflow.pipeline import Pipeline
    from mailcapture.mailflow.store import Envelope
    from mailcapture.parsing.classify import classify
    from mailcapture.parsing.form import read_reply
    from mailcapture.parsing.mime import MessageTooLarge, MimeTooDeep, decode_message
    from mailcapture.parsing.quotes import split_reply

    folder = Path(tempfile.mkdtemp(prefix="mailcapture-cost-"))
    try:
        for suffix in ("", "-wal", "-shm"):
            if Path(template + suffix).exists():
                shutil.copy(template + suffix, folder / f"cost.db{suffix}")
        url = f"sqlite:///{folder / 'cost.db'}"
        request = _request(url)
        sent = [request.form_text]

        def pure(raw: bytes) -> str:
            try:
                decoded = decode_message(raw)
            except (MessageTooLarge, MimeTooDeep) as exc:
                return f"refused: {type(exc).__name__}"
            verdict = classify(decoded, raw, None)
            reading = read_reply(decoded.text, sent, request.codes)
            split = split_reply(decoded.text)
            return (
                f"{verdict.kind.value}, {len(reading.answers)} answer(s), "
                f"{len(decoded.text):,} chars, cut: {split.boundary}, "
                f"{len(decoded.defects)} defect(s)"
            )

        engine = make_engine(url)
        pipeline = Pipeline(session_factory(engine), FixedClock(INGEST_AT))

        def ingest(raw: bytes) -> str:
            result = pipeline.ingest(raw, Envelope(source="bench"))
            return f"{result.state}/{result.outcome}"

        measure = pure if mode == "pure" else ingest
        _warm_up(request, pure)
        if mode == "ingest":
            ingest(_baseline_reply(request))
        baseline = []
        for run in range(BASELINE_RUNS):
            raw = _baseline_reply(request, 20 + run)
            baseline.append(_timed(lambda raw=raw: measure(raw)))  # type: ignore[misc]
        raw = CASES[case][1](request)
        cpu, wall, outcome = _timed(lambda: measure(raw))
        engine.dispose()
        return {
            "case": case,
            "mode": mode,
            "bytes": len(raw),
            "cpu": cpu,
            "wall": wall,
            "outcome": outcome,
            "baseline_cpu": statistics.median(b[0] for b in baseline),
            "baseline_wall": statistics.median(b[1] for b in baseline),
            "baseline_outcome": baseline[-1][2],
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------- the parent


def _child(args: list[str], code: str | None, limit: float) -> tuple[str | None, float]:
    """Run this script as a child; (its last stdout line, or None when stopped, wall s)."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    if code:
        command += ["--code", code]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=limit, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    lines = done.stdout.strip().splitlines()
    return (lines[-1] if lines else ""), time.perf_counter() - start


def _log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def _print(rows: list[dict[str, Any]], label: str) -> None:
    print(f"\n{label}: CPU seconds per message (median baseline of {BASELINE_RUNS} in each run)")
    for mode in MODES:
        outcomes = {r["baseline_outcome"] for r in rows if r.get("mode") == mode and "cpu" in r}
        if outcomes:
            print(f"baseline ({mode}): a Gmail reply to the request: {', '.join(sorted(outcomes))}")
    print("| case | mode | bytes | CPU s | wall s | baseline CPU ms | x baseline | outcome |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        if row.get("stopped"):
            print(f"| {row['case']} | {row['mode']} | | > {row['limit']:.0f} (stopped) | | | | |")
            continue
        ratio = row["cpu"] / row["baseline_cpu"] if row["baseline_cpu"] else float("nan")
        print(
            f"| {row['case']} | {row['mode']} | {row['bytes']:,} | {row['cpu']:.3f} | "
            f"{row['wall']:.3f} | {row['baseline_cpu'] * 1000:.1f} | {ratio:,.0f} | "
            f"{row['outcome']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--modes", default=",".join(MODES), help="pure, ingest or both")
    parser.add_argument("--code", help="a folder holding the mailcapture package to measure")
    parser.add_argument("--label", default="this checkout", help="names the run in the table")
    parser.add_argument("--limit", type=float, default=150.0, help="seconds per case")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=3, metavar=("CASE", "MODE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.build or args.run:
        _use_code(args.code)
        if args.build:
            _build(args.build)
        else:
            print(json.dumps(_run(*args.run)))
        return

    cases = args.cases.split(",") if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    modes = args.modes.split(",")
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, code: {args.code or CHECKOUT}"
    )
    folder = Path(tempfile.mkdtemp(prefix="mailcapture-cost-template-"))
    rows: list[dict[str, Any]] = []
    try:
        template = str(folder / "template.db")
        _log("building the sample council's database with April's requests sent")
        line, _ = _child(["--build", template], args.code, 600)
        for case in cases:
            for mode in modes:
                _log(f"{case} ({mode})")
                line, wall = _child(["--run", case, mode, template], args.code, args.limit)
                if line is None:
                    rows.append({"case": case, "mode": mode, "stopped": True, "limit": wall})
                else:
                    rows.append(json.loads(line))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _print(rows, args.label)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
