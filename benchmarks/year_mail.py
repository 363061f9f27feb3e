"""Measure (issue 15): the email each person gets in a year of the sample register.

Run from the checkout::

    .venv/bin/python -m benchmarks.year_mail                 # 2026/27, ticking every morning
    .venv/bin/python -m benchmarks.year_mail --no-write      # print only

A throw-away SQLite database (removed afterwards) gets the sample council's register (loaded
on 20 March 2026), then the timetable runs every morning at 09:00 (Europe/London) from
1 April 2026 to 31 May 2027, as ``mailcapture serve`` would: requests, reminders,
escalations, returns summaries and every report. Nobody replies, so this is the most mail
the timetable can send (each reply would add one confirmation and take its sender out of the
chase). It prints, per person: emails in total, by kind, and the most on any one day; and the
totals. The figure to compare across commits is the same run on each (``git worktree``).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import subprocess
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import select

from benchmarks._common import log
from benchmarks._synthetic import scratch_database
from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.migrate import upgrade
from mailcapture.register.loader import load_folder
from mailcapture.resources import sample_register
from mailcapture.schedule.tick import tick

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Email per person in a year (issue 15)"
FIRST, LAST = date(2026, 4, 1), date(2027, 5, 31)


def run() -> tuple[dict[str, Counter[str]], dict[str, int], float]:
    with scratch_database("sqlite", "") as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        try:
            load_folder(sample_register(), sessions, as_utc(datetime(2026, 3, 20, 12, 0)))
            started = time.perf_counter()
            day = FIRST
            while day <= LAST:
                tick(sessions, as_utc(datetime.combine(day, clock_time(9, 0), tzinfo=LOCAL_TZ)))
                day += timedelta(days=1)
            wall = time.perf_counter() - started
            by_person: dict[str, Counter[str]] = defaultdict(Counter)
            per_day: Counter[tuple[str, date]] = Counter()
            with sessions() as session:
                for recipient, kind, created in session.execute(
                    select(
                        m.OutboxMessage.recipient,
                        m.OutboxMessage.kind,
                        m.OutboxMessage.created_at,
                    )
                ):
                    by_person[recipient][kind] += 1
                    per_day[(recipient, created.astimezone(LOCAL_TZ).date())] += 1
        finally:
            engine.dispose()
    most: dict[str, int] = defaultdict(int)
    for (recipient, _), count in per_day.items():
        most[recipient] = max(most[recipient], count)
    return by_person, most, wall


def report(by_person: dict[str, Counter[str]], most: dict[str, int], wall: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    kinds = sorted({k for c in by_person.values() for k in c})
    total = sum(sum(c.values()) for c in by_person.values())
    lines = [
        f"Commit {commit or '?'}, `python -m benchmarks.year_mail`: the sample register, "
        f"ticked every morning {FIRST:%d %B %Y} to {LAST:%d %B %Y}, nobody replying "
        f"({wall:.0f} s). {total:,} emails to {len(by_person)} addresses.",
        "",
        "| person | emails | most in one day | by kind |",
        "| --- | ---: | ---: | --- |",
    ]
    for person, counts in sorted(by_person.items(), key=lambda kv: -sum(kv[1].values())):
        kinds_text = ", ".join(f"{k} {n}" for k, n in counts.most_common())
        lines.append(f"| {person} | {sum(counts.values())} | {most[person]} | {kinds_text} |")
    lines.append("")
    lines.append(
        "Totals by kind: "
        + ", ".join(f"{k} {sum(c[k] for c in by_person.values())}" for k in kinds)
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="latest run")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    log("ticking the sample register's year, every morning")
    section = report(*run())
    print(section)
    if not args.no_write:
        text = RESULTS.read_text(encoding="utf-8")
        block = f"### {args.label}\n\n{section}\n"
        if HEADING in text:
            head, _, rest = text.partition(HEADING + "\n\n")
            text = head + HEADING + "\n\n" + block + rest
        else:
            text = f"{HEADING}\n\n{block}" + text
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
