"""``mailcapture target``, ``lock``/``unlock`` and ``export indicators`` through the real CLI.

The sample register (Ashdown District Council) with its 2025/26 history, on both databases.
The authority table is the register's (mailcapture/register/sample/framework.yaml): a
year-end target needs the chief executive or the head of service; an in-year one the head of
service or a registered delegate of that head.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.domain.enums import (
    ApproverKind,
    ChangeKind,
    CommentSubject,
    SignoffDecision,
    SubmissionSource,
    ToleranceKind,
)
from mailcapture.domain.periods import parse_period
from mailcapture.register.loader import load_folder
from mailcapture.reports.export import to_xlsx
from mailcapture.reports.indicator_export import INDICATOR_COLUMNS, indicators_table
from mailcapture.reports.period_locks import LockRefused, lock_period
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.targets import TargetError, mark_reported, set_target, target_changes_for
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.snapshots import run_cli

D = Decimal
APRIL_2025 = parse_period("2025-04")
NOW = datetime(2026, 5, 20, tzinfo=UTC)


@pytest.fixture
def loaded(
    cli_env: dict[str, str], sample_register: SampleRegister
) -> tuple[dict[str, str], sessionmaker[Session]]:
    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    sessions = session_factory(engine)
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    yield cli_env, sessions
    engine.dispose()


def target_of(session: Session, code: str, period: str) -> m.Target | None:
    return session.scalar(
        select(m.Target)
        .join(m.Indicator, m.Indicator.id == m.Target.indicator_id)
        .join(m.Period, m.Period.id == m.Target.period_id)
        .where(m.Indicator.code == code, m.Period.code == period)
    )


def test_target_changes_checked_against_the_authority_table(loaded) -> None:
    env, sessions = loaded
    set_bv8a = ("target", "set", "BV8a", "2026/27", "96", "--reason", "Supplier system outage")

    refused = run_cli(*set_bv8a, "--approved-by", "martin.shaw@ashdown.example", env=env)
    assert refused.code == 1
    assert refused.stderr.strip() == (
        "mailcapture: error: refused: a year-end target change for BV8a needs the chief "
        "executive or the head of service (Resources: Richard Okafor); "
        "martin.shaw@ashdown.example is the performance team"
    )
    # The same check in process (the CLI above shows how a refusal reaches the user).
    with sessions() as s:
        refusals = []
        for code, period, approver in [
            ("BV8a", "2026/27 Q2", "mark.ellison@ashdown.example"),  # the owner
            # A delegate of Sarah Whitfield may approve in-year changes for Housing only.
            ("LHM01", "2026/27", "emma.kirkby@ashdown.example"),
            ("BV8a", "2026/27 Q2", "emma.kirkby@ashdown.example"),
        ]:
            with pytest.raises(TargetError) as refused_here:
                set_target(
                    s,
                    code,
                    parse_period(period),
                    D(95),
                    reason="x",
                    approved_by=approver,
                    now=datetime(2026, 6, 1, tzinfo=UTC),
                )
            refusals.append(str(refused_here.value))
        s.rollback()
    assert refusals[0].startswith("refused: an in-year target change for BV8a needs the head")
    assert refusals[0].endswith("; mark.ellison@ashdown.example is the indicator's owner")
    assert refusals[1].endswith(
        "emma.kirkby@ashdown.example is a registered delegate of the head of service"
    )
    assert refusals[2].endswith("emma.kirkby@ashdown.example holds no approving role for BV8a")
    with sessions() as s:
        assert s.scalars(select(m.TargetChange)).all() == []
        assert target_of(s, "BV8a", "2026/27").value == D("97.5")

    chief = run_cli(
        *set_bv8a,
        "--approved-by",
        "Helen.Marsden@ashdown.example",
        "--now",
        "2026-06-01T10:00",
        env=env,
    )
    assert chief.code == 0, chief.stderr
    assert "BV8a 2026/27 target 97.5 -> 96, approved by Helen Marsden" in chief.stdout
    delegate = run_cli(
        *("target", "set", "LHM01", "2026/27 Q2", "2.5", "--tolerance", "10%"),
        *("--reason", "Universal credit migration", "--now", "2026-06-02T10:00"),
        *("--approved-by", "emma.kirkby@ashdown.example"),
        env=env,
    )
    assert delegate.code == 0, delegate.stderr

    with sessions() as s:
        assert target_of(s, "BV8a", "2026/27").value == D(96)
        lhm = target_of(s, "LHM01", "2026/27 Q2")
        assert (lhm.value, lhm.tolerance, lhm.tolerance_kind) == (
            D("2.5"),
            D(10),
            ToleranceKind.PERCENT,
        )
        changes = s.scalars(select(m.TargetChange).order_by(m.TargetChange.id)).all()
        assert [
            (c.change_kind, c.old_value, c.new_value, c.authority, c.reason) for c in changes
        ] == [
            (
                ChangeKind.PI_TARGET_YEAR_END,
                D("97.5"),
                D(96),
                ApproverKind.CHIEF_EXECUTIVE,
                "Supplier system outage",
            ),
            (
                ChangeKind.PI_TARGET_IN_YEAR,
                D("2.1"),
                D("2.5"),
                ApproverKind.HEAD_OF_SERVICE_DELEGATE,
                "Universal credit migration",
            ),
        ]
        assert changes[0].recorded_at == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # 10:00 BST
        # Reports use the new target at once.
        [bv8a] = indicator_values(s, parse_period("2026/27 Q1"), ["BV8a"])
        assert bv8a.target is not None and bv8a.target.value == D(96)

        q1, q2 = parse_period("2026/27 Q1"), parse_period("2026/27 Q2")
        reported = target_changes_for(s, q1)
        assert [(c.code, c.period, c.approved_by) for c in reported] == [
            ("BV8a", "2026/27", "Helen Marsden"),
            ("LHM01", "2026/27 Q2", "Emma Kirkby"),
        ]
        assert mark_reported(s, reported, datetime(2026, 7, 20, tzinfo=UTC)) == 2
        s.commit()
        # The Q1 report run again shows the same changes; the Q2 report does not repeat them.
        assert [c.code for c in target_changes_for(s, q1)] == ["BV8a", "LHM01"]
        assert target_changes_for(s, q2) == []
        assert target_changes_for(s, parse_period("2025/26 Q4")) == []
        # The end-of-year report lists the whole year's changes.
        assert [c.code for c in target_changes_for(s, parse_period("2026/27"))] == [
            "BV8a",
            "LHM01",
        ]

    listed = run_cli("target", "list", "--period", "2026/27 Q2", env=env)
    assert listed.code == 0, listed.stderr
    assert "LHM01" in listed.stdout and "Universal credit migration" in listed.stdout

    # Loading the register again (it still says 97.5 for BV8a's year, and has no Q2
    # target for LHM01) keeps the approved targets.
    again = load_folder(CONFIG_DIR, sessions, datetime(2026, 6, 3, tzinfo=UTC))
    assert again.changes.as_dict() == {"targets": {"kept (approved change)": ["BV8a 2026/27"]}}
    with sessions() as s:
        assert target_of(s, "BV8a", "2026/27").value == D(96)
        assert target_of(s, "LHM01", "2026/27 Q2").value == D("2.5")


def _approve_all(sessions: sessionmaker[Session], period: str) -> int:
    """Sign-offs as an owner's answer to the owner report would record them."""
    with sessions.begin() as s:
        rows = [r for r in indicator_values(s, parse_period(period)) if r.value is not None]
        period_row = s.scalars(select(m.Period).where(m.Period.code == period)).one()
        for row in rows:
            indicator = s.scalars(select(m.Indicator).where(m.Indicator.code == row.code)).one()
            s.add(
                m.Signoff(
                    indicator_id=indicator.id,
                    period_id=period_row.id,
                    decision=SignoffDecision.APPROVED,
                    person_id=indicator.owner_id,
                    decided_at=datetime(2026, 5, 20, tzinfo=UTC),
                )
            )
        return len(rows)


def test_lock_needs_the_performance_team_and_every_value_signed_off(loaded) -> None:
    env, sessions = loaded
    # April 2025's figures as if they had come by email: the register's history alone is
    # final and would need no sign-off.
    with sessions.begin() as s:
        s.execute(
            update(m.ComponentValue)
            .where(
                m.ComponentValue.period_id.in_(
                    select(m.Period.id).where(m.Period.code == "2025-04")
                )
            )
            .values(source=SubmissionSource.EMAIL)
        )
    with sessions() as s:
        with pytest.raises(LockRefused, match="only the performance team may lock a period"):
            lock_period(s, APRIL_2025, by="kevin.walsh@ashdown.example", now=NOW)
        with pytest.raises(LockRefused, match="--force needs a reason"):
            lock_period(s, APRIL_2025, by="martin.shaw@ashdown.example", now=NOW, force=True)
        s.rollback()
    unsigned = run_cli("lock", "2025-04", "--by", "martin.shaw@ashdown.example", env=env)
    assert unsigned.code == 1
    assert "refused: 17 indicator value(s) for 2025-04 not signed off (BV212," in unsigned.stderr
    assert "--force --reason" in unsigned.stderr
    with sessions() as s:
        assert s.scalars(select(m.PeriodLock)).all() == []

    assert _approve_all(sessions, "2025-04") == 17
    first = run_cli(
        *("lock", "2025-04", "--by", "martin.shaw@ashdown.example"),
        *("--now", "2026-05-21T09:00"),
        env=env,
    )
    assert first.code == 0, first.stderr
    again = run_cli("lock", "2025-04", "--by", "alison.reeve@ashdown.example", env=env)
    assert again.code == 0, again.stderr
    assert "2025-04 is already locked (2025-04 on 2026-05-21 09:00 by Martin Shaw)" in again.stdout
    status = run_cli("status", env=env)
    assert "periods locked: 2025-04 on 2026-05-21 09:00 by Martin Shaw" in status.stdout

    missing_reason = run_cli("unlock", "2025-04", "--by", "martin.shaw@ashdown.example", env=env)
    assert missing_reason.code != 0
    opened = run_cli(
        *("unlock", "2025-04", "--by", "alison.reeve@ashdown.example"),
        *("--reason", "BV8a correction from Finance", "--now", "2026-06-01T09:00"),
        env=env,
    )
    assert opened.code == 0, opened.stderr
    with sessions() as s:
        [lock] = s.scalars(select(m.PeriodLock)).all()  # kept, not deleted
        assert lock.locked_at == datetime(2026, 5, 21, 8, 0, tzinfo=UTC)
        assert lock.unlocked_at == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
        people = {p.id: p.email for p in s.scalars(select(m.Person))}
        assert people[lock.locked_by_id] == "martin.shaw@ashdown.example"
        assert people[lock.unlocked_by_id] == "alison.reeve@ashdown.example"
        assert lock.reason == "unlocked: BV8a correction from Finance"


def test_export_indicators_matches_the_computed_values(loaded, tmp_path) -> None:
    env, sessions = loaded
    with sessions.begin() as s:
        q1 = s.scalars(select(m.Period).where(m.Period.code == "2025/26 Q1")).one()
        bv8a = s.scalars(select(m.Indicator).where(m.Indicator.code == "BV8a")).one()
        s.add(
            m.Commentary(
                period_id=q1.id,
                subject=CommentSubject.INDICATOR,
                indicator_id=bv8a.id,
                author_role="owner",
                body='=HYPERLINK("http://evil.example")',
                submitted_by_id=bv8a.owner_id,
                source=SubmissionSource.EMAIL,
                received_at=datetime(2026, 4, 21, tzinfo=UTC),
                is_current=True,
            )
        )

    result = run_cli("export", "indicators", "--period", "2025/26 Q1", "--format", "json", env=env)
    assert result.code == 0, result.stderr
    # The quarter in full, then its months (--period covers the periods inside it).
    exported = {r["indicator"]: r for r in json.loads(result.stdout) if r["period"] == "2025/26 Q1"}
    with sessions() as s:
        computed = {r.code: r for r in indicator_values(s, parse_period("2025/26 Q1"))}
    assert exported.keys() == computed.keys()
    for code, row in computed.items():
        line = exported[code]
        assert line["value"] == (None if row.value is None else format(row.value, "f")), code
        assert line["status"] == row.rag.value
        assert line["trend"] == row.trend.value
        assert line["reason"] == row.reason
        assert line["target"] == (None if row.target is None else format(row.target.value, "f"))

    # BV8a by hand from `export values`: 100 * paid / received over April-June 2025.
    values = run_cli("export", "values", env=env)
    sums = {"BV8a.1": D(0), "BV8a.2": D(0)}
    for r in csv.DictReader(io.StringIO(values.stdout)):
        if r["code"] in sums and r["period"] in {"2025-04", "2025-05", "2025-06"}:
            sums[r["code"]] += D(r["value"])
    by_hand = (100 * sums["BV8a.1"] / sums["BV8a.2"]).quantize(D("0.1"))
    assert by_hand == D("97.4")
    line = exported["BV8a"]
    assert (line["value"], line["target"], line["status"], line["flags"]) == (
        "97.4",
        "97",
        "green",
        None,  # the register's history: final, so not provisional
    )
    assert line["commentary"] == 'Mark Ellison (owner): =HYPERLINK("http://evil.example")'

    as_csv = run_cli("export", "indicators", "--period", "2025/26 Q1", env=env)
    [bv8a_line] = [
        r
        for r in csv.DictReader(io.StringIO(as_csv.stdout))
        if r["indicator"] == "BV8a" and r["period"] == "2025/26 Q1"
    ]
    assert bv8a_line["commentary"] == 'Mark Ellison (owner): =HYPERLINK("http://evil.example")'

    # The spreadsheet has the same rows, with figures as numbers.
    with sessions() as s:
        book = load_workbook(io.BytesIO(to_xlsx(indicators_table(s, parse_period("2025/26 Q1")))))
    sheet = [row for row in book.active.iter_rows(values_only=True)]
    assert sheet[0] == INDICATOR_COLUMNS
    assert len([r for r in sheet[1:] if r[2] == "2025/26 Q1"]) == len(computed)
    assert [r[3] for r in sheet if r[0] == "BV8a"] == [97.4, 97.4, 96.8, 97.9]  # Q1, its months

    every = run_cli("export", "indicators", "--format", "csv", env=env)
    lines = list(csv.DictReader(io.StringIO(every.stdout)))
    assert [(r["period"], r["value"]) for r in lines if r["indicator"] == "BV8a"][:3] == [
        ("2025-04", "97.4"),
        ("2025-05", "96.8"),
        ("2025-06", "97.9"),
    ]
